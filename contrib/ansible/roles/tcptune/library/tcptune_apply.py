#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: apply a tcptune profile, the way ansible.posix.sysctl
behaves for one key: idempotent, `changed` only when something changed,
check mode predicts without changing anything, diff mode shows the sysctl.d
file's unified diff and the live values that change.

It runs tcptune itself and reads its documented JSON (schema/diff.schema.json,
schema/transaction.schema.json) and exit codes (schema/README.md): `diff`
exits 0 when nothing is pending and 1 when changes are; `apply --yes` exits
0 when done (3 after putting back what it had changed).
"""

import json

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: tcptune_apply
short_description: Apply a tcptune profile (live values and its sysctl.d file)
options:
  binary: {type: path, required: true, description: the tcptune binary on the managed host}
  profiles: {type: list, elements: str, required: true, description: profiles, later ones layered over earlier ones}
  root: {type: path, default: /, description: tcptune --root}
  live: {type: bool, default: false, description: "with a root other than /, also set this kernel's live values (tcptune --live)"}
  extra_args: {type: list, elements: str, default: [], description: global tcptune options put before the command}
"""


def run(module, command):
    rc, out, err = module.run_command(command, check_rc=False)
    return rc, out, err


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", required=True),
            profiles=dict(type="list", elements="str", required=True),
            root=dict(type="path", default="/"),
            live=dict(type="bool", default=False),
            extra_args=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    base = [params["binary"], "--root", params["root"], "--format", "json", "--color", "never"]
    base += params["extra_args"]
    profiles = []
    for profile in params["profiles"]:
        profiles += ["--profile", profile]
    live = ["--live"] if params["live"] else []

    rc, out, err = run(module, base + ["diff"] + profiles + live)
    if rc not in (0, 1):
        module.fail_json(msg="tcptune diff failed (exit %d): %s" % (rc, err.strip()), rc=rc)
    try:
        plan = json.loads(out)
    except ValueError as error:
        module.fail_json(msg="tcptune diff printed no JSON: %s" % error, stdout=out)
    pending = bool(plan.get("pending"))
    changing = [c for c in plan.get("changes", []) if c.get("status") == "change"]
    result = dict(
        changed=pending,
        profile=plan.get("profile"),
        file=plan.get("file"),
        live=plan.get("live", True),
        pending_keys=[c["key"] for c in changing],
        shadows=plan.get("shadows", []),
    )
    if module._diff and pending:
        lines = []
        if plan.get("live", True) and changing:
            lines.append("live values:")
            lines += ["  %s: %s -> %s" % (c["key"], c.get("from"), c.get("to")) for c in changing]
        file_diff = plan.get("file_diff") or ""
        result["diff"] = {"prepared": "\n".join(lines + [file_diff]).rstrip("\n") + "\n"}
    if module.check_mode or not pending:
        module.exit_json(**result)

    rc, out, err = run(module, base + ["apply"] + profiles + live + ["--yes"])
    if rc != 0:
        module.fail_json(msg="tcptune apply failed (exit %d): %s" % (rc, err.strip()), rc=rc, **result)
    try:
        outcome = json.loads(out)
    except ValueError as error:
        module.fail_json(msg="tcptune apply printed no JSON: %s" % error, stdout=out, **result)
    result["changed"] = bool(outcome.get("changed"))
    result["transaction"] = outcome.get("transaction")
    result["changes"] = [c for c in outcome.get("changes", []) if c.get("status") == "change"]
    for line in err.strip().splitlines():
        module.warn(line)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
