"""Read a task's outcome or the recap out of ansible-playbook's default output.

    recap.py OUTPUT task  NAME_PREFIX       # changed | ok | skipping | failed | absent
    recap.py OUTPUT msg   NAME_PREFIX       # the msg of a failed task
    recap.py OUTPUT stats FIELD             # ok, changed, failed, skipped, ... of localhost

OUTPUT is what ansible-playbook printed with the default stdout callback,
ANSIBLE_NOCOLOR=1 and ANSIBLE_CALLBACK_RESULT_FORMAT=json (ansible-core
ships no JSON stdout callback; that one is in the ansible.posix collection).
A task is named without its role prefix ("Apply tcptune profile"); "absent"
means it did not run at all (filtered out by --tags).
"""

import json
import re
import sys

TASK = re.compile(r"^TASK \[(?:[^\]:]+ : )?(?P<name>.*)\] \**$")
STATUS = re.compile(r"^(?P<status>ok|changed|skipping|fatal|failed): \[localhost\]")
RECAP = re.compile(r"^localhost\s+:\s+(?P<fields>.*)$")


def tasks(lines):
    """(name, first status line, its index) for every task, in order."""
    current = None
    for index, line in enumerate(lines):
        match = TASK.match(line)
        if match:
            current = match.group("name")
            continue
        match = STATUS.match(line)
        if match and current is not None:
            yield current, match.group("status"), index
            current = None


def main(argv):
    with open(argv[1], encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    query, subject = argv[2], argv[3]
    if query == "stats":
        for line in lines:
            match = RECAP.match(line)
            if match:
                fields = dict(item.split("=", 1) for item in match.group("fields").split())
                print(fields.get(subject, ""))
                return
        print("")
        return
    for name, status, index in tasks(lines):
        if not name.startswith(subject):
            continue
        status = "failed" if status == "fatal" else status
        if query == "task":
            print(status)
        elif query == "msg":
            # `fatal: [localhost]: FAILED! => {...}`, the result as JSON.
            _, _, result = lines[index].partition("=> ")
            try:
                print(json.loads(result).get("msg", ""))
            except json.JSONDecodeError:
                print(result)
        else:
            sys.exit(f"unknown query {query!r}")
        return
    print("absent" if query == "task" else "")


if __name__ == "__main__":
    main(sys.argv)
