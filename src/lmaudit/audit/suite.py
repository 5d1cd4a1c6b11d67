"""Audit suites: which tasks to evaluate and, per task, which evidence to collect.

A suite is a YAML file (or the name of a built-in one, `audit/suites/<name>.yaml`):

```yaml
name: demo                         # default: the file name without .yaml
description: one line
tasks:
  arith:                           # the task's id in this suite (unique)
    task: arith                    # registered task or YAML task file (default: the id)
    role: target                   # before/after audits: target, general (default), format
                                   # or safety (`lmaudit audit --baseline`, change matrix)
    options: {fewshot: 0}          # task options, as `--task-option KEY=VALUE`
    limit: 200                     # evaluate only the first N items (with --limit: the smaller)
    sampling: {samples: 8, temperature: 0.7, top_p: 1.0, verifiers: [self, oracle]}
                                   # repeated sampling, as `lmaudit run --samples` (optional)
    references: {chance: 0.0, human: null}   # human: null, a number, or {label: number};
                                   # none given: the task's own (`task.references()`)
    probes:                        # each entry is one probe run (stage)
      - {name: symbolic, variants: [symbolic], sets: 10, seed: 0}
      - {variants: [noop]}         # name defaults to the variants joined with '+'
      # templates: DIR             # GSM-Symbolic templates/ folder (gsm8k: symbolic, p1, p2)
    contamination:
      likelihood: true             # or {reference_file, reference_split, train_file, k, ...}
      scan: {corpus: [PATH_OR_GLOB, ...], ngram: 13}
    prompts:                       # extra prompt variants, each one more run
      - {name: prompt-2, template: "Q: {input}\\nA:", options: {fewshot: "3"}}
```

String values may name environment variables as `${VAR}` or `${VAR:-default}`. Relative
task files, template folders, reference/train files and corpora are resolved against the
suite file's folder for a suite file, against the working directory for a built-in suite.
Every error names the file and the key (`tasks.arith.probes[0].variants`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class References:
    """Reference lines drawn beside a task's scores: `chance` (the score of guessing, same
    unit as the headline metric) and `human` (label → published human score)."""

    chance: float | None = None
    human: Mapping[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"chance": self.chance, "human": None if self.human is None else dict(self.human)}


@dataclass(frozen=True)
class ProbeSpec:
    """One probe run: variant families, instance sets, variant seed, optional templates."""

    name: str
    variants: tuple[str, ...]
    sets: int = 10
    seed: int = 0
    templates: str | None = None


@dataclass(frozen=True)
class LikelihoodSpec:
    """The likelihood contamination test. Reference items: `reference_file`, else the task's
    `reference_split`, else the task's own reference split (arith has `ref`)."""

    reference_file: str | None = None
    reference_split: str | None = None
    train_file: str | None = None
    train_split: str | None = None
    k: float = 0.2
    exchangeability: str = "auto"
    seed: int = 0


@dataclass(frozen=True)
class ScanSpec:
    """A corpus n-gram scan of the task's items (model-independent)."""

    corpus: tuple[str, ...]
    ngram: int = 13
    text_field: str = "text"


@dataclass(frozen=True)
class PromptSpec:
    """A prompt variant: `template` wraps each item's prompt (`{input}`), `options` are
    extra task options (e.g. another few-shot count)."""

    name: str
    template: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite and the evidence to collect for it."""

    id: str
    task: str
    options: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    references: References = References()
    probes: tuple[ProbeSpec, ...] = ()
    likelihood: LikelihoodSpec | None = None
    scan: ScanSpec | None = None
    prompts: tuple[PromptSpec, ...] = ()
    role: str = "general"
    sampling: Mapping[str, Any] | None = None  # as a run invocation's `sampling`


@dataclass(frozen=True)
class Suite:
    """A parsed, validated suite. `path` is None for a built-in suite; `sha256` hashes the
    file's bytes."""

    name: str
    description: str
    tasks: tuple[TaskSpec, ...]
    path: Path | None
    sha256: str


def builtin_suites() -> list[str]:
    """Names of the suites shipped with lmaudit."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """A suite by built-in name or YAML path, validated (LmauditError names file and key)."""
    text = str(name_or_path)
    path = Path(text)
    builtin = not path.suffix and not path.exists() and (SUITES_DIR / f"{text}.yaml").is_file()
    if builtin:
        file = SUITES_DIR / f"{text}.yaml"
    elif path.is_file():
        file = path
    else:
        raise LmauditError(
            f"suite {text!r}: no such file and no built-in suite of that name "
            f"(built-in: {', '.join(builtin_suites())})"
        )
    data = file.read_bytes()
    base = Path.cwd() if builtin else file.resolve().parent
    where = f"suite {text}" if builtin else f"suite file {file}"
    suite = parse_suite(data.decode("utf-8"), where=where, base=base, default_name=file.stem)
    return Suite(suite.name, suite.description, suite.tasks,
                 None if builtin else file.resolve(), hashlib.sha256(data).hexdigest())


def parse_suite(text: str, *, where: str, base: Path, default_name: str) -> Suite:
    """Parse and validate suite YAML; `where` prefixes every error, `base` resolves paths."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LmauditError(f"{where}: not valid YAML: {error}") from None
    p = _Parser(where, base)
    top = p.mapping(raw, "", {"name", "description", "tasks"})
    name = p.text(top.get("name", default_name), "name")
    if not _NAME.match(name):
        raise LmauditError(f"{where}: name: {name!r} must be letters, digits, '-', '_', '.', '+'")
    tasks_raw = p.mapping(top.get("tasks"), "tasks", None)
    if not tasks_raw:
        raise LmauditError(f"{where}: tasks: a suite needs at least one task")
    tasks = tuple(p.task(str(key), value) for key, value in tasks_raw.items())
    return Suite(name, p.text(top.get("description", ""), "description"), tasks, None, "")


class _Parser:
    """Typed getters that raise LmauditError naming the file and the key path."""

    def __init__(self, where: str, base: Path) -> None:
        self.where, self.base = where, base

    def fail(self, key: str, message: str) -> LmauditError:
        return LmauditError(f"{self.where}: {key}: {message}" if key
                            else f"{self.where}: {message}")

    def mapping(self, value: Any, key: str, allowed: set[str] | None) -> dict[str, Any]:
        if value is None and key:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            unknown = sorted(set(map(str, value)) - allowed)
            if unknown:
                raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                                f"unknown key; expected one of {', '.join(sorted(allowed))}")
        return dict(value)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        return expand_env(str(value), lambda m: self.fail(key, m))

    def integer(self, value: Any, key: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def number(self, value: Any, key: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            low <= value <= high
        ):
            raise self.fail(key, f"expected a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    def path(self, value: Any, key: str) -> str:
        path = Path(self.text(value, key)).expanduser()
        return str(path if path.is_absolute() else self.base / path)

    def options(self, value: Any, key: str) -> dict[str, str]:
        raw = self.mapping(value, key, None)
        return {str(k): self.text(v, f"{key}.{k}") for k, v in raw.items()}

    def task(self, task_id: str, value: Any) -> TaskSpec:
        key = f"tasks.{task_id}"
        if not _NAME.match(task_id):
            raise self.fail(key, "a task id must be letters, digits, '-', '_', '.', '+'")
        raw = self.mapping(value, key, {"task", "options", "limit", "references", "probes",
                                        "contamination", "prompts", "role", "sampling"})
        task = self.text(raw.get("task", task_id), f"{key}.task")
        if task.endswith((".yaml", ".yml")):
            task = self.path(task, f"{key}.task")
            if not Path(task).is_file():
                raise self.fail(f"{key}.task", f"task file {task} does not exist")
        else:
            from lmaudit.tasks.registry import task_names

            if task not in task_names():
                raise self.fail(f"{key}.task", f"unknown task {task!r}; registered: "
                                f"{', '.join(task_names())} (or a YAML task file)")
        limit = raw.get("limit")
        contamination = self.mapping(raw.get("contamination"), f"{key}.contamination",
                                     {"likelihood", "scan"})
        return TaskSpec(
            id=task_id, task=task,
            options=self.options(raw.get("options"), f"{key}.options"),
            limit=None if limit is None else self.integer(limit, f"{key}.limit", 1),
            references=self.references(raw.get("references"), f"{key}.references"),
            probes=self.probes(raw.get("probes"), f"{key}.probes"),
            likelihood=self.likelihood(contamination.get("likelihood"),
                                       f"{key}.contamination.likelihood"),
            scan=self.scan(contamination.get("scan"), f"{key}.contamination.scan"),
            prompts=self.prompts(raw.get("prompts"), f"{key}.prompts"),
            role=self.role(raw.get("role", "general"), f"{key}.role"),
            sampling=self.sampling(raw.get("sampling"), f"{key}.sampling"),
        )

    def sampling(self, value: Any, key: str) -> dict[str, Any] | None:
        """Repeated sampling of a task: `samples` (>= 1), `temperature` (default 0.7 for
        several samples, else 0), `top_p` (default 1), `verifiers` (`--verifier` specs)."""
        if value is None:
            return None
        from lmaudit.tasks.sampled import DEFAULT_TEMPERATURE, SamplingConfig

        raw = self.mapping(value, key, {"samples", "temperature", "top_p", "verifiers"})
        samples = self.integer(raw.get("samples", 1), f"{key}.samples", 1)
        default = DEFAULT_TEMPERATURE if samples > 1 else 0.0
        found: dict[str, Any] = {
            "samples": samples,
            "temperature": self.number(raw.get("temperature", default), f"{key}.temperature",
                                       0.0, 100.0),
            "top_p": self.number(raw.get("top_p", 1.0), f"{key}.top_p", 0.0, 1.0),
        }
        verifiers = raw.get("verifiers") or []
        if not isinstance(verifiers, list):
            raise self.fail(f"{key}.verifiers", "expected a list of verifier specs")
        if verifiers:
            found["verifiers"] = [self.text(v, f"{key}.verifiers[{i}]")
                                  for i, v in enumerate(verifiers)]
        try:
            SamplingConfig(samples, found["temperature"], found["top_p"])
        except LmauditError as error:
            raise self.fail(key, str(error)) from None
        return found

    def role(self, value: Any, key: str) -> str:
        from lmaudit.report.change_model import ROLES

        role = self.text(value, key)
        if role not in ROLES:
            raise self.fail(key, f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        return role

    def references(self, value: Any, key: str) -> References:
        raw = self.mapping(value, key, {"chance", "human"})
        chance = raw.get("chance")
        human = raw.get("human")
        if human is not None and not isinstance(human, dict):
            human = {"human": human}
        return References(
            None if chance is None else self.number(chance, f"{key}.chance", 0.0, 1.0),
            None if human is None else {
                str(label): self.number(score, f"{key}.human.{label}", 0.0, 1.0)
                for label, score in human.items()
            },
        )

    def probes(self, value: Any, key: str) -> tuple[ProbeSpec, ...]:
        from lmaudit.probes.perturb import VARIANT_FAMILIES

        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, "expected a list of probe runs")
        specs: list[ProbeSpec] = []
        for index, item in enumerate(value):
            at = f"{key}[{index}]"
            raw = self.mapping(item, at, {"name", "variants", "sets", "seed", "templates"})
            variants = raw.get("variants")
            if isinstance(variants, str):
                variants = [v.strip() for v in variants.split(",")]
            if not isinstance(variants, list) or not variants:
                raise self.fail(f"{at}.variants", "expected a non-empty list of families")
            for family in variants:
                if family not in VARIANT_FAMILIES:
                    raise self.fail(f"{at}.variants", f"unknown family {family!r}; choose "
                                    f"from {', '.join(VARIANT_FAMILIES)}")
            name = self.text(raw.get("name", "+".join(variants)), f"{at}.name")
            if not _NAME.match(name):
                raise self.fail(f"{at}.name", f"{name!r}: letters, digits, '-', '_', '.', '+'")
            sets = self.integer(raw.get("sets", 10), f"{at}.sets", 1)
            if sets > 100:
                raise self.fail(f"{at}.sets", f"at most 100 instance sets, got {sets}")
            templates = raw.get("templates")
            specs.append(ProbeSpec(
                name, tuple(variants), sets, self.integer(raw.get("seed", 0), f"{at}.seed", 0),
                None if templates is None else self.path(templates, f"{at}.templates"),
            ))
        self.unique([s.name for s in specs], key)
        return tuple(specs)

    def likelihood(self, value: Any, key: str) -> LikelihoodSpec | None:
        if value is None or value is False:
            return None
        raw = {} if value is True else self.mapping(value, key, {
            "reference_file", "reference_split", "train_file", "train_split", "k",
            "exchangeability", "seed"})
        files = {name: None if raw.get(name) is None else self.path(raw[name], f"{key}.{name}")
                 for name in ("reference_file", "train_file")}
        for name, file in files.items():
            if file is not None and not Path(file).is_file():
                raise self.fail(f"{key}.{name}", f"file {file} does not exist")
        splits = {name: None if raw.get(name) is None else self.text(raw[name], f"{key}.{name}")
                  for name in ("reference_split", "train_split")}
        exchangeability = self.text(raw.get("exchangeability", "auto"), f"{key}.exchangeability")
        if exchangeability not in ("auto", "off", "force"):
            raise self.fail(f"{key}.exchangeability", "expected auto, off or force")
        k = self.number(raw.get("k", 0.2), f"{key}.k", 0.0, 1.0)
        if k == 0.0:
            raise self.fail(f"{key}.k", "must be in (0, 1]")
        return LikelihoodSpec(
            files["reference_file"], splits["reference_split"], files["train_file"],
            splits["train_split"], k, exchangeability,
            self.integer(raw.get("seed", 0), f"{key}.seed", 0),
        )

    def scan(self, value: Any, key: str) -> ScanSpec | None:
        if value is None:
            return None
        raw = self.mapping(value, key, {"corpus", "ngram", "text_field"})
        corpus = raw.get("corpus")
        if isinstance(corpus, str):
            corpus = [corpus]
        if not isinstance(corpus, list) or not corpus:
            raise self.fail(f"{key}.corpus", "expected a list of corpus files or folders")
        paths: list[str] = []
        for i, item in enumerate(corpus):
            path = self.path(item, f"{key}.corpus[{i}]")
            matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
            if not matches or not Path(matches[0]).exists():
                raise self.fail(f"{key}.corpus[{i}]", f"{path} matches no file")
            paths += matches
        return ScanSpec(
            tuple(paths),
            self.integer(raw.get("ngram", 13), f"{key}.ngram", 1),
            self.text(raw.get("text_field", "text"), f"{key}.text_field"),
        )

    def prompts(self, value: Any, key: str) -> tuple[PromptSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, "expected a list of prompt variants")
        specs: list[PromptSpec] = []
        for index, item in enumerate(value):
            at = f"{key}[{index}]"
            raw = self.mapping(item, at, {"name", "template", "options"})
            if "name" not in raw:
                raise self.fail(f"{at}.name", "a prompt variant needs a name")
            name = self.text(raw["name"], f"{at}.name")
            if not _NAME.match(name):
                raise self.fail(f"{at}.name", f"{name!r}: letters, digits, '-', '_', '.', '+'")
            template = None if raw.get("template") is None else self.text(
                raw["template"], f"{at}.template")
            if template is not None and "{input}" not in template:
                raise self.fail(f"{at}.template", "must contain {input} (the task's prompt)")
            options = self.options(raw.get("options"), f"{at}.options")
            if template is None and not options:
                raise self.fail(at, "a prompt variant needs a template or options")
            specs.append(PromptSpec(name, template, options))
        self.unique([s.name for s in specs], key)
        return tuple(specs)

    def unique(self, names: list[str], key: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise self.fail(key, f"name {name!r} is used twice")
            seen.add(name)


def expand_env(text: str, fail: Any = None) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without default is an
    error (raised through `fail(message)` when given)."""

    def substitute(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        message = f"environment variable {match.group(1)} is not set"
        raise fail(message) if fail is not None else LmauditError(message)

    return _ENV.sub(substitute, text)
