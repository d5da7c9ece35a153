# Apply a tcptune profile with Puppet, idempotently.
#
#   class { 'tcptune': profile => 'webserver' }   # default: 'default'
#
# `tcptune diff` is the guard: it exits 0 when the host already matches the
# profile (live values and /etc/sysctl.d/99-zz-tcptune.conf), so Puppet does
# nothing and reports nothing. Exit 1 means changes are pending, and the
# apply runs. Any other exit (2: bad profile, 3: cannot read) also lets the
# apply run, which then fails with the same message: the resource shows up
# as failed in the report instead of being skipped in silence.
class tcptune (
  String $profile = 'default',
  String $binary  = '/usr/local/bin/tcptune',
  String $root    = '/',
) {
  exec { "tcptune apply ${profile}":
    command   => "${binary} --root ${root} apply --profile ${profile} --yes",
    unless    => "${binary} --root ${root} diff --profile ${profile}",
    logoutput => on_failure,
  }
}
