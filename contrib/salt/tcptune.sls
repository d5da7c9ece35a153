# Apply a tcptune profile with Salt, idempotently.
#
# Pillar (all optional):
#   tcptune:
#     profile: webserver
#     binary: /usr/local/bin/tcptune
#     root: /
#
# `unless` runs `tcptune diff`: exit 0 means the host already matches the
# profile, so the state is a no-op. Exit 1 means changes are pending and
# `apply --yes` runs. Another exit (2: bad profile, 3: cannot read) also
# runs the apply, which then fails with the same message: the state shows
# as failed instead of silently passing.
{% set tcptune = salt['pillar.get']('tcptune', {}) %}
{% set binary = tcptune.get('binary', '/usr/local/bin/tcptune') %}
{% set profile = tcptune.get('profile', 'default') %}
{% set root = tcptune.get('root', '/') %}

tcptune-apply:
  cmd.run:
    - name: {{ binary }} --root {{ root }} apply --profile {{ profile }} --yes
    - unless: {{ binary }} --root {{ root }} diff --profile {{ profile }}
