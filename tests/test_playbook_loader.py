"""The loader: every problem as PATH:LINE:COL: message, never a traceback."""

from __future__ import annotations

import json
import re
import time

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PLAYBOOKS, runbook
from runbook.playbook import loader

LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")

GOOD = """\
name: t
targets:
  host: {kind: host}
steps:
  - id: look
    kind: check
    target: host
    probes: [host.basic]
  - id: pick
    kind: decision
    branches:
      - when: facts.host.cpus > 0
        goto: do
    default: end
  - id: do
    kind: action
    target: host
    action: host.command
    params: {command: [true]}
"""


def problems(text: str | bytes) -> list[str]:
    pb, probs = loader.loads(text.encode() if isinstance(text, str) else text, "p.yaml")
    assert (pb is None) == bool(probs)
    return [str(p) for p in probs]


def test_shipped_playbooks_are_valid() -> None:
    r = runbook("validate", "playbooks/")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_good_playbook_loads() -> None:
    pb, probs = loader.loads(GOOD, "p.yaml")
    assert probs == []
    assert [s.id for s in pb.steps] == ["look", "pick", "do"]
    assert pb.successors(pb.by_id["pick"]) == ["do", "end"]


@pytest.mark.parametrize(
    "text, where, needle",
    [
        ("name: x\nsteps: [\n", (3, 1), "expected"),
        ("name: x\nsteps:\n\t- id: a\n", (3, 1), "tab"),
        ("name: 7\nsteps: {a: 1}\n", (2, 8), "expected a list, got a mapping"),
        ("name: x\nstep: []\n", (2, 1), "unknown key 'step' (did you mean 'steps'?)"),
        ("- a\n- b\n", (1, 1), "got a list"),
        ("", (1, 1), "empty playbook"),
        ("name: x\nsteps:\n  - {id: a, kind: chek}\n", (3, 19), "did you mean 'check'"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: hi, nxt: end}\n", (3, 42), "did you mean 'next'"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: hi}\n  - {id: a, kind: instruction, text: ho}\n", (4, 10), "duplicate step id 'a'"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: hi, next: nowhere}\n", (3, 48), "goes to no step"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: hi, next: end}\n  - {id: b, kind: instruction, text: x}\n", (4, 5), "unreachable"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: hi, next: b}\n  - {id: b, kind: instruction, text: x, next: a}\n", (3, 5), "loop with no way out"),
        ("name: x\nsteps:\n  - {id: a, kind: decision, branches: [{when: 'facts.x ** 2', goto: end}]}\n", (3, 47), "not allowed"),
        ("name: x\nsteps:\n  - {id: a, kind: decision, branches: [{when: 'open(1)', goto: end}]}\n", (3, 47), "unknown function 'open'"),
        ("name: x\nsteps:\n  - {id: a, kind: decision, branches: [{when: \"finding('redis.nope')\", goto: end}]}\n", (3, 47), "unknown finding id"),
        ("name: x\ntargets: {h: {kind: host}}\nsteps:\n  - {id: a, kind: check, target: h, probes: [host.bsic]}\n", (4, 46), "did you mean 'host.basic'"),
        ("name: x\ntargets: {h: {kind: host}}\nsteps:\n  - {id: a, kind: action, target: h, action: host.rm}\n", (4, 46), "unknown action"),
        ("name: x\ntargets: {h: {kind: host}}\nsteps:\n  - {id: a, kind: check, target: h, probes: [redis.check]}\n", (4, 46), "reads a redis target"),
        ("name: x\nsteps:\n  - {id: a, kind: action, target: h, action: host.command}\n", (3, 35), "unknown target 'h'"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction}\n", (3, 5), "needs 'text'"),
        ("name: x\nsteps:\n  - {id: a, kind: instruction, text: x, probes: [host.basic]}\n", (3, 41), "does not belong in an instruction step"),
        ("name: x\nname: y\nsteps: []\n", (2, 1), "duplicate key 'name'"),
        ("name: x\nsteps:\n  - id: a\n    kind: instruction\n    text: !!python/object:os.system x\n", (5, 11), "cannot read value"),
        ("a: &x [1]\nb: *x\n", (2, 4), "aliases of mappings"),
    ],
)
def test_problem_positions(text: str, where: tuple[int, int], needle: str) -> None:
    found = problems(text)
    assert found, text
    assert any(needle in p and p.startswith(f"p.yaml:{where[0]}:{where[1]}:") for p in found), found


def test_binary_bytes() -> None:
    assert problems(b"name: x\n\x00\x01\x02") == ["p.yaml:2:1: binary data (NUL byte): not a YAML text file"]
    assert problems(b"name: \xff\xfe\n")[0].startswith("p.yaml:1:7: not UTF-8")


def test_deep_nesting_flow_and_block() -> None:
    assert problems("[" * 10_000 + "]" * 10_000)[0].startswith("p.yaml:1:")
    block = "".join(" " * i + "a:\n" for i in range(10_000))
    out = problems(block)
    assert len(out) == 1 and "nested deeper" in out[0]


def test_cli_reports_each_malformed_file_quickly(tmp_path) -> None:
    cases = {
        "broken.yaml": b"name: x\nsteps: [\n",
        "tabs.yaml": b"name: x\nsteps:\n\t- id: a\n",
        "types.yaml": b"name: x\nsteps: 3\n",
        "unknown.yaml": b"nme: x\nsteps: []\n",
        "list.yaml": b"- 1\n",
        "binary.yaml": bytes(range(256)),
        "empty.yaml": b"",
        "deep.yaml": ("[" * 10_000 + "]" * 10_000).encode(),
        "big.yaml": b"name: big\ndescription: |\n" + b"  filler line of text\n" * 250_000 + b"steps: [\n",
    }
    assert len(cases["big.yaml"]) > 5_000_000
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        t = time.monotonic()
        r = runbook("validate", str(tmp_path / name))
        elapsed = time.monotonic() - t
        assert r.returncode == 1, (name, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        lines = r.stdout.strip().splitlines()
        assert lines and all(LINE.match(x) for x in lines), (name, r.stdout)
        assert elapsed < 30, (name, elapsed)  # a hang or a blow-up, not a speed (benchmarks measure that)
    big = runbook("validate", str(tmp_path / "big.yaml")).stdout
    assert int(LINE.match(big.splitlines()[0])["line"]) > 250_000


def test_schema_is_json_schema_and_accepts_shipped_playbooks() -> None:
    r = runbook("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for f in PLAYBOOKS.glob("*.yaml"):
        v.validate(yaml.safe_load(f.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        v.validate({"name": "x", "steps": [{"id": "a", "kind": "instruction", "probes": []}]})


# ---- hypothesis: the loader never raises, whatever it is given
_keys = st.sampled_from(["name", "steps", "id", "kind", "target", "probes", "branches", "when", "goto", "next",
                         "default", "text", "action", "guards", "expr", "probe", "params", "targets", "x", "check",
                         "decision", "instruction", "end"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), _keys)
_docs = st.recursive(_scalars, lambda ch: st.one_of(st.lists(ch, max_size=5), st.dictionaries(_keys, ch, max_size=6)),
                     max_leaves=40)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_docs)
def test_generated_structures_never_crash(doc) -> None:
    text = yaml.safe_dump(doc)
    pb, probs = loader.loads(text, "g.yaml")
    assert pb is not None or probs
    for p in probs:
        assert LINE.match(str(p))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_generated_bytes_never_crash(data: bytes) -> None:
    pb, probs = loader.loads(data, "g.yaml")
    assert pb is not None or probs


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\t\n 1.?%@`,")), max_size=200))
def test_generated_yamlish_text_never_crashes(text: str) -> None:
    pb, probs = loader.loads(text, "g.yaml")
    assert pb is not None or probs


def test_the_format_readmes_complete_example_is_valid(tmp_path) -> None:
    """playbooks/README.md's example uses every format feature; it must load (beside the playbook it calls)."""
    import shutil

    text = (PLAYBOOKS / "README.md").read_text()
    example = re.search(r"```yaml\n(version: 1\nname: replica-catch-up\n.*?)```", text, re.S)[1]
    (tmp_path / "replica-catch-up.yaml").write_text(example)
    shutil.copy(PLAYBOOKS / "redis-enable-aof.yaml", tmp_path)
    pb, problems = loader.load(tmp_path / "replica-catch-up.yaml")
    assert not problems, problems
    kinds = {s.kind for s in pb.steps}
    assert kinds >= {"check", "instruction", "wait", "action", "call"} and pb.inputs and pb.targets["replicas"].list
