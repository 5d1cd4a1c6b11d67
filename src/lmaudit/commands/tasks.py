"""`lmaudit tasks`: list the registered tasks, or show one task's spec as YAML."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Mapping
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list the registered tasks, or show one task's spec",
        description=(
            "List the registered tasks (name, type, description), or print the full spec "
            "of one task (a registered name or a YAML task file) as YAML."
        ),
        epilog=(
            "examples:\n"
            "  lmaudit tasks\n"
            "  lmaudit tasks --show gsm8k --task-option fewshot=5\n"
            "  lmaudit tasks --show my_task.yaml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--show", metavar="TASK", help="print the spec of TASK (a name or a YAML file path)"
    )
    parser.add_argument(
        "--task-option",
        action="append",
        metavar="KEY=VALUE",
        help="task option for --show, repeatable, e.g. subject=anatomy, data=test.jsonl",
    )
    parser.set_defaults(func=run)


def _plain(value: Any) -> Any:
    """Tuples to lists, mappings to dicts, other non-YAML values to strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _dumper() -> Any:
    """A safe YAML dumper writing strings with newlines double-quoted ("a\\nb")."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = '"' if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return Dumper


def format_table(rows: list[tuple[str, str, str]], *, width: int = 100) -> str:
    """A plain-text table of (name, type, description); descriptions wrap to `width`."""
    header = ("NAME", "TYPE", "DESCRIPTION")
    name_w = max(len(r[0]) for r in [header, *rows])
    type_w = max(len(r[1]) for r in [header, *rows])
    text_w = max(20, width - name_w - type_w - 4)
    lines = []
    for name, kind, description in [header, *rows]:
        wrapped = textwrap.wrap(description, text_w) or [""]
        lines.append(f"{name:<{name_w}}  {kind:<{type_w}}  {wrapped[0]}".rstrip())
        indent = " " * (name_w + type_w + 4)
        lines.extend(indent + more for more in wrapped[1:])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import yaml

    from lmaudit.commands._common import parse_key_values
    from lmaudit.core.types import LmauditError
    from lmaudit.tasks.registry import list_tasks, load_task

    if not args.show:
        if args.task_option:
            raise LmauditError("--task-option applies to --show TASK only")
        infos = list_tasks()
        print(format_table([(i.name, i.type, i.description) for i in infos]))
        print("\nrun `lmaudit tasks --show NAME` for a task's full spec and options")
        return 0
    task = load_task(args.show, parse_key_values(args.task_option, flag="--task-option"))
    note = None
    try:
        spec = task.spec()
    except LmauditError as error:
        static = getattr(task, "static_spec", None)
        if static is None:
            raise
        spec, note = static(), f"# data not loaded ({error}); spec without data fields\n"
    text = yaml.dump(
        _plain(spec), Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100
    )
    print((note or "") + text, end="")
    return 0
