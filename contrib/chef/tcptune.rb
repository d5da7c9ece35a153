# Apply a tcptune profile with Chef, idempotently (a recipe).
#
# Attributes (all optional): node['tcptune']['profile'], ['binary'], ['root'].
#
# The `not_if` guard runs `tcptune diff`: exit 0 means the host already
# matches the profile, so the resource is skipped (up to date). Exit 1
# means changes are pending and `apply --yes` runs. Another exit (2: bad
# profile, 3: cannot read) also runs the apply, which then fails with the
# same message, so the Chef run fails instead of skipping in silence.
require 'shellwords'

profile = node.dig('tcptune', 'profile') || 'default'
binary = node.dig('tcptune', 'binary') || '/usr/local/bin/tcptune'
root = node.dig('tcptune', 'root') || '/'

execute "tcptune apply #{profile}" do
  command [binary, '--root', root, 'apply', '--profile', profile, '--yes'].shelljoin
  not_if [binary, '--root', root, 'diff', '--profile', profile].shelljoin
end
