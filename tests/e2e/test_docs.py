"""The documentation, executed and checked against the code.

The quick start's ``bash`` blocks run in order, as one script, against a stack started by ``wowsino run``
exactly as ``make run`` starts it; the verifiers are taken out of ``docs/`` and run on real responses and
on real (and rotated) signatures; every JSON answer the reference pages show is compared with a real
answer of the same call; the routes, scopes, settings and problem types the pages list are compared with
the application's own; and every link between the pages must land on a heading. A change to the code
that makes the docs wrong makes these tests fail.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from litestar.exceptions import HTTPException, ValidationException

from api import errors
from api.app import create_app
from api.auth import scopes_of
from config.settings import load_settings
from models.signing import new_secret, sign
from tests.support.api import PRIZES, Operator, grant, provision
from tests.support.launch import wowsino_run
from tests.support.processes import BIN, ROOT, Process, free_port, wait_until
from tests.support.receiver import receiver

DOCS = ROOT / "docs"
NOT_RUN = "<!-- not run by tests: starts the stack -->"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    marker: str  # the line just before the opening fence


def blocks(name: str, lang: str) -> list[Block]:
    """The fenced blocks of one language in a docs file, in order."""
    text = (DOCS / name).read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(Block(match["lang"], match["code"], before.strip()))
    return [block for block in found if block.lang == lang]


def block_with(name: str, lang: str, needle: str) -> str:
    matching = [block.code for block in blocks(name, lang) if needle in block.code]
    assert len(matching) == 1, f"expected one {lang} block with {needle!r} in docs/{name}, found {len(matching)}"
    return matching[0]


@dataclass(frozen=True)
class Launched:
    url: str
    home: Path
    stack: Process

    def admin(self) -> httpx.Client:
        token = (self.home / "var" / "admin-token").read_text().strip()
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """``wowsino run`` in an empty folder: its own Redis, a fresh database, a generated admin token."""
    home = tmp_path_factory.mktemp("docs-home")
    with wowsino_run(home) as (url, stack):
        yield Launched(url, home, stack)


# --- the quick start ----------------------------------------------------------------------------------


def quick_start_script() -> str:
    """Every bash block of the quick start in order, except the one that starts the stack."""
    runnable = []
    skipped = []
    for block in blocks("quickstart.md", "bash"):
        (skipped if block.marker == NOT_RUN else runnable).append(block.code)
    assert [code.strip() for code in skipped] == ["make run"], "only `make run` may be left out of the test"
    assert len(runnable) >= 10
    return "\n".join(runnable)


def run_bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run *script* under ``bash -euo pipefail``; background jobs it leaves behind are killed."""
    cleanup = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", cleanup + script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_quick_start_commands_run_as_written(launched: Launched) -> None:
    env = {key: value for key, value in os.environ.items() if key != "WOWSINO_ADMIN_TOKEN"}
    env.update(BASE=launched.url, HOOK_PORT=str(free_port()), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    done = run_bash(quick_start_script(), launched.home, env)
    out = done.stdout
    assert done.returncode == 0, f"the quick start failed:\n{out}\n{done.stderr}\n{launched.stack.tail()}"

    # what the docs say `make run` prints, and every other output they show, verbatim
    port = launched.url.rsplit(":", 1)[1]
    texts = [block.code.strip() for block in blocks("quickstart.md", "text")]
    started = [text for text in texts if "API listening" in text]
    assert started and started[0].replace(":8000", f":{port}") in launched.stack.log_path.read_text()
    shown = [text for text in texts if "API listening" not in text]
    shown += [block.code.strip() for block in blocks("quickstart.md", "json")]
    assert len(shown) >= 3
    for output in shown:
        assert output in out, f"the quick start shows output it did not print:\n{output}"

    assert '{"status":"ok","checks":{"database":"ok","redis":"ok"}}' in out
    assert '"slug":"acme-casino"' in out and '"mode":"live"' in out
    assert re.search(r"-> HTTP 201\n.*-> HTTP 200\n", out), "players: 201 then 200"
    assert out.count('"deduped":false') == 1 and out.count('"deduped":true') == 1
    assert "idempotent-replayed: true" in out.lower()
    assert '"type":"idempotency-key-reused"' in out and "-> HTTP 422" in out
    reward = re.search(r"^reward: (\d+) WINZ \((small|big)\)$", out, re.M)
    assert reward is not None and int(reward[1]) == {"small": 100, "big": 1500}[reward[2]]
    assert f'{{"WINZ":{reward[1]}}}' in out.splitlines()
    assert "StarlordV7 seen with the test key -> HTTP 404" in out
    assert "delivery: succeeded" in out.splitlines() and "lootbox.opened" in out.splitlines()

    # the state the commands left: one credit for two opens, and a genuine signed webhook
    key = re.search(r'"key":"(wsk_live_[0-9a-f]{48})"', out)
    assert key is not None
    with httpx.Client(base_url=launched.url, headers={"Authorization": f"Bearer {key[1]}"}) as api:
        assert api.get("/v1/players/StarlordV7").json()["balances"] == {"WINZ": int(reward[1])}
        assert len(api.get("/v1/players/StarlordV7/ledger").json()["data"]) == 1
    secret = re.search(r"signing secret (whsec_\S+)$", out, re.M)
    assert secret is not None
    received = json.loads((launched.home / "hooks" / "received.json").read_text())
    case = {"secret": secret[1], "headers": received["headers"], "body": received["body"]}
    assert python_stdlib_verifier([case]) == ["ok:lootbox.opened"]
    assert package_verifier([case]) == ["ok:lootbox.opened"]
    if shutil.which("node"):
        assert node_verifier([case]) == ["ok:lootbox.opened"]


# --- the fairness verifier ----------------------------------------------------------------------------


def verifier_code() -> str:
    code = block_with("fairness.md", "python", "def pick(")
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 25, f"the standalone verifier grew to {len(lines)} lines"
    return code


def run_verifier(script: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """Run a docs script isolated from site-packages (``-I -S``): the standard library only."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def save(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


def test_fairness_verifier_recomputes_real_draws(launched: Launched, tmp_path: Path) -> None:
    script = tmp_path / "verify_draw.py"
    script.write_text(verifier_code())
    with launched.admin() as admin:
        operator: Operator = provision(admin, launched.url)
    api = operator.client
    alice, bob = operator.player("alice"), operator.player("bob")

    prize_table = [
        {"label": "coins", "asset": "WINZ", "amount": 10, "weight": 5},
        {"label": "stars", "asset": "XP", "amount": 3, "weight": 3},
        {"label": "cash", "asset": "USD", "amount": "0.5", "weight": 2},
    ]
    box = api.post("/v1/lootbox", json={"name": "Verifiable", "prize_table": prize_table}).json()
    lootbox = save(tmp_path / "lootbox.json", api.get(f"/v1/lootbox/{box['id']}").json())
    for attempt in range(6):
        client_seed = {"client_seed": f"seed-{attempt}"} if attempt % 2 else {}
        opened = api.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": alice, **client_seed})
        assert opened.status_code == 201, opened.text
        body = opened.json()
        label = body["reward"]["segment_label"]
        checked = run_verifier(script, save(tmp_path / "open.json", body), lootbox)
        assert (checked.returncode, checked.stdout) == (0, f"verified: segment_label {label!r}\n"), checked

        other = next(segment["label"] for segment in prize_table if segment["label"] != label)
        for changed in ({"segment_label": other}, {"amount": "1000000"}, {"asset": "EUR"}):
            tampered = {**body, "reward": {**body["reward"], **changed}}
            refused = run_verifier(script, save(tmp_path / "bad.json", tampered), lootbox)
            assert refused.returncode == 1 and refused.stderr.startswith("NOT VERIFIED"), refused

    # the opens listing keeps every draw with its seeds: the verifier checks its rows as they are
    rows = api.get(f"/v1/lootbox/{box['id']}/opens", params={"limit": 500}).json()["data"]
    assert len(rows) == 6
    for row in rows:
        checked = run_verifier(script, save(tmp_path / "row.json", row), lootbox)
        assert checked.stdout == f"verified: segment_label {row['outcome']['segment_label']!r}\n", checked

    game = api.post("/v1/mini-games", json={"name": "Wheel", "kind": "wheel", "prize_table": prize_table}).json()
    played = api.post(f"/v1/mini-games/{game['id']}/play", json={"user_id": bob, "client_seed": "spin"}).json()
    wheel = save(tmp_path / "wheel.json", api.get(f"/v1/mini-games/{game['id']}").json())
    checked = run_verifier(script, save(tmp_path / "play.json", played), wheel)
    assert checked.stdout == f"verified: segment_label {played['outcome']['segment_label']!r}\n", checked

    swapped_seed = {**played, "server_seed": secrets.token_hex(32)}
    refused = run_verifier(script, save(tmp_path / "bad.json", swapped_seed), wheel)
    assert refused.returncode == 1 and "server_seed_hash" in refused.stderr

    grant(operator, alice, 50)
    grant(operator, bob, 50)
    raffle = api.post("/v1/raffles", json={"name": "Weekly", "ticket_cost_winz": 1, "prize_winz": 10}).json()
    for username, tickets in ((alice, 3), (bob, 4), (alice, 2)):
        entered = api.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": username, "tickets": tickets})
        assert entered.status_code == 201, entered.text
    drawn = api.post(f"/v1/raffles/{raffle['id']}/draw", json={"client_seed": "lottery-2025-05-19"})
    assert drawn.status_code == 201, drawn.text
    draw = drawn.json()
    checked = run_verifier(script, save(tmp_path / "draw.json", draw))
    assert (checked.returncode, checked.stdout) == (0, f"verified: winning_ticket_idx {draw['winning_ticket_idx']}\n")

    moved = {**draw, "winning_ticket_idx": (draw["winning_ticket_idx"] + 1) % draw["total_tickets"]}
    refused = run_verifier(script, save(tmp_path / "bad.json", moved))
    assert refused.returncode == 1 and refused.stderr.startswith("NOT VERIFIED"), refused

    entries_script = tmp_path / "check_entries.py"
    entries_script.write_text(block_with("fairness.md", "python", "entries_hash"))
    entries = api.get(f"/v1/raffles/{raffle['id']}/entries", params={"limit": 500}).json()
    checked = run_verifier(entries_script, save(tmp_path / "entries.json", entries), tmp_path / "draw.json")
    expected = f"entries verified: ticket {draw['winning_ticket_idx']} of 9 belongs to {draw['winner_username']}\n"
    assert (checked.returncode, checked.stdout) == (0, expected), checked
    renamed = {"data": [{**entry, "user_id": "mallory"} for entry in entries["data"]]}
    refused = run_verifier(entries_script, save(tmp_path / "bad.json", renamed), tmp_path / "draw.json")
    assert refused.returncode == 1 and "entries_hash" in refused.stderr


# --- the webhook verification examples ----------------------------------------------------------------


def python_stdlib_verifier(cases: list[dict[str, Any]]) -> list[str]:
    """The docs' standard-library function, in a Python without site-packages, on each case."""
    driver = """
import json as _json, sys as _sys
_results = []
for _case in _json.load(_sys.stdin):
    try:
        _results.append("ok:" + verify_webhook(_case["secret"], _case["headers"], _case["body"].encode())["type"])
    except ValueError:
        _results.append("refused")
print(_json.dumps(_results))
"""
    code = block_with("webhooks.md", "python", "def verify_webhook(") + driver
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], input=json.dumps(cases), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def package_verifier(cases: list[dict[str, Any]]) -> list[str]:
    """The docs' example with the ``standardwebhooks`` package."""
    namespace: dict[str, Any] = {}
    exec(block_with("webhooks.md", "python", "standardwebhooks"), namespace)
    results = []
    for case in cases:
        event = namespace["parse_webhook"](case["secret"], case["headers"], case["body"].encode())
        results.append("refused" if event is None else "ok:" + event["type"])
    return results


def node_verifier(cases: list[dict[str, Any]]) -> list[str]:
    """The docs' Node.js function, run by ``node`` on each case."""
    driver = """
const results = JSON.parse(require("node:fs").readFileSync(0, "utf8")).map((c) => {
  try { return "ok:" + verifyWebhook(c.secret, c.headers, Buffer.from(c.body, "utf8")).type; }
  catch (error) { return "refused"; }
});
console.log(JSON.stringify(results));
"""
    code = block_with("webhooks.md", "js", "function verifyWebhook(") + driver
    done = subprocess.run(["node", "-e", code], input=json.dumps(cases), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def signed_cases() -> tuple[list[dict[str, Any]], list[str]]:
    """Deliveries signed by ``models.signing.sign``, some genuine and some not, with the expected verdicts."""
    secret = new_secret()
    msg_id = "msg_" + secrets.token_hex(16)
    now = int(time.time())
    event = {"id": msg_id, "type": "lootbox.opened", "delivered_at": "2025-05-19T20:14:33Z", "data": {"user": "Jürgen"}}
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    good = sign(secret, msg_id, now, body)

    def case(body: str = body, timestamp: int = now, signature: str = good, key: str = secret) -> dict[str, Any]:
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
        return {"secret": key, "headers": headers, "body": body}

    stale = now - 600
    other = "v1," + base64.b64encode(bytes(32)).decode()
    return [
        case(),
        case(body=body.replace("Jürgen", "Jurgen")),
        case(key=new_secret()),
        case(timestamp=stale, signature=sign(secret, msg_id, stale, body)),
        case(timestamp=now + 1, signature=good),
        case(signature=f"{other} {good}"),
        case(signature=good.replace("v1,", "v2,")),
    ], ["ok:lootbox.opened", "refused", "refused", "refused", "refused", "ok:lootbox.opened", "refused"]


def test_standard_library_webhook_verifier_accepts_only_genuine_signatures() -> None:
    cases, expected = signed_cases()
    assert python_stdlib_verifier(cases) == expected


def test_standardwebhooks_example_accepts_only_genuine_signatures() -> None:
    cases, expected = signed_cases()
    assert package_verifier(cases) == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_webhook_verifier_accepts_only_genuine_signatures() -> None:
    cases, expected = signed_cases()
    assert node_verifier(cases) == expected


# --- a rotated secret: real deliveries signed twice, checked by the docs' verifiers -----------------------


def test_deliveries_after_a_rotation_verify_with_the_old_and_the_new_secret(launched: Launched) -> None:
    with launched.admin() as admin:
        operator = provision(admin, launched.url, mode="test")
    api = operator.client
    with receiver() as hooks:
        created = api.post("/v1/webhooks", json={"url": hooks.url, "events": ["lootbox.*"]}).json()
        rotated = api.post(f"/v1/webhooks/{created['id']}/rotate-secret")
        assert rotated.status_code == 201, rotated.text
        old, new = created["signing_secret"], rotated.json()["signing_secret"]
        assert old != new and "signing_secret" not in api.get(f"/v1/webhooks/{created['id']}").json()
        box = operator.lootbox()
        opened = api.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": operator.player()})
        assert opened.status_code == 201, opened.text
        (delivery,) = hooks.wait_for(1)
    assert len(delivery.headers["webhook-signature"].split()) == 2
    cases = [
        {"secret": secret, "headers": delivery.headers, "body": delivery.body} for secret in (old, new, new_secret())
    ]
    expected = ["ok:lootbox.opened", "ok:lootbox.opened", "refused"]
    assert python_stdlib_verifier(cases) == expected
    assert package_verifier(cases) == expected
    if shutil.which("node"):
        assert node_verifier(cases) == expected


# --- every JSON answer the reference pages show has the shape of a real one --------------------------------


def shape(value: Any) -> Any:
    """Keys all the way down (a list by its first item); values do not matter."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def documented_json(*names: str) -> list[tuple[str, Any]]:
    """Every top-level ``json`` block of these pages, parsed (the examples must be valid JSON)."""
    found = []
    for name in names:
        for block in blocks(name, "json"):
            try:
                found.append((f"docs/{name}:\n{block.code}", json.loads(block.code)))
            except json.JSONDecodeError as bad:
                pytest.fail(f"docs/{name} shows invalid JSON ({bad}):\n{block.code}")
    return found


def answered(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def real_answers(api: httpx.Client, documented_batch: dict[str, Any], hooks_url: str) -> list[Any]:
    """One real answer of every call the reference pages show an answer of, on a fresh sandbox tenant."""
    got: list[Any] = [answered(api.get("/v1/me"), 200)]
    alice = "alice"
    for username in ("alice", "bob"):
        answered(api.post("/v1/players", json={"username": username}), 201)
    subscription = answered(api.post("/v1/webhooks", json={"url": hooks_url, "events": ["*"]}), 201)
    got.append(subscription)

    box = answered(api.post("/v1/lootbox", json={"name": "Friday Daily", "prize_table": PRIZES}), 201)
    got.append(box)
    for _ in range(3):
        got.append(answered(api.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": alice}), 201))
    got.append(answered(api.get(f"/v1/lootbox/{box['id']}/opens"), 200))
    got.append(answered(api.get(f"/v1/lootbox/{box['id']}/stats"), 200))
    pricey = answered(api.post("/v1/lootbox", json={"name": "Pricey", "prize_table": PRIZES, "cost_winz": 10**9}), 201)
    got.append(answered(api.post(f"/v1/lootbox/{pricey['id']}/open", json={"user_id": alice}), 402))

    wheel = {"name": "Wheel", "kind": "wheel", "prize_table": PRIZES}
    game = answered(api.post("/v1/mini-games", json=wheel), 201)
    got.append(answered(api.post(f"/v1/mini-games/{game['id']}/play", json={"user_id": "bob"}), 201))
    got.append(answered(api.get(f"/v1/mini-games/{game['id']}/plays"), 200))

    raffle = answered(api.post("/v1/raffles", json={"name": "Weekly", "ticket_cost_winz": 10, "prize_winz": 500}), 201)
    got.append(answered(api.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": alice, "tickets": 3}), 201))
    got.append(answered(api.post(f"/v1/raffles/{raffle['id']}/draw", json={"client_seed": "lottery"}), 201))
    got.append(answered(api.get(f"/v1/raffles/{raffle['id']}/entries"), 200))

    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    bands = [{"rank_from": 1, "rank_to": 1, "prize_winz": 100}]
    tournament = answered(api.post("/v1/tournaments", json={"name": "Cup", **window, "prizes": bands}), 201)
    jackpot = answered(api.post("/v1/jackpots", json={"name": "Pot", "currency": "EUR", "seed_amount": "100"}), 201)
    steps = [{"trigger": "deposit", "reward_winz": 10}, {"trigger": "spin", "count": 2}]
    journey = answered(api.post("/v1/journeys", json={"name": "Welcome", "steps": steps}), 201)

    # the batch request the docs show, with this tenant's ids: every event of it is accepted
    ids = {"jackpot_id": jackpot["id"], "tournament_id": tournament["id"], "user_id": alice}
    events = [{**event, **{key: ids[key] for key in event if key in ids}} for event in documented_batch["events"]]
    assert {event["type"] for event in events} == {"tournament.score", "jackpot.contribute", "journey.event"}
    results = answered(api.post("/v1/events/batch", json={"events": events}), 202)["results"]
    assert [result["status"] for result in results] == ["accepted"] * len(events), results
    repeated = [*events[:1], {**events[0], "user_id": "ghost", "source_wager_id": "w-ghost"}]
    got.append(answered(api.post("/v1/events/batch", json={"events": [events[0], *repeated]}), 202))

    contributions = f"/v1/jackpots/{jackpot['id']}/contributions"
    wait_until(lambda: bool(api.get(contributions).json()["data"]), what="the contribution")
    got.append(answered(api.get(contributions), 200))
    got.append(answered(api.post(f"/v1/jackpots/{jackpot['id']}/drop", json={}), 201))
    got.append(answered(api.get(f"/v1/jackpots/{jackpot['id']}/drops"), 200))
    board = f"/v1/tournaments/{tournament['id']}/leaderboard"
    wait_until(lambda: bool(api.get(board).json()["data"]), what="the score")
    got.append(answered(api.get(board), 200))
    got.append(answered(api.get(f"/v1/tournaments/{tournament['id']}/scores"), 200))
    got.append(answered(api.post(f"/v1/tournaments/{tournament['id']}/close"), 201))
    progress = f"/v1/journeys/{journey['id']}/progress/{alice}"
    wait_until(lambda: api.get(progress).json()["current_step"] == 1, what="the journey step")
    got.append(answered(api.get(progress), 200))
    got.append(answered(api.get(f"/v1/journeys/{journey['id']}/progress"), 200))
    got.append(answered(api.get("/v1/ledger/transactions", params={"user": alice}), 200))

    deliveries = f"/v1/webhooks/{subscription['id']}/deliveries"
    wait_until(lambda: bool(api.get(deliveries, params={"status": "failed"}).json()["data"]), what="a failed delivery")
    got.append(answered(api.get(deliveries, params={"status": "failed"}), 200))
    since = (now - timedelta(minutes=1)).isoformat()
    got.append(answered(api.post(f"/v1/webhooks/{subscription['id']}/redeliver", json={"since": since}), 202))
    got.append(answered(api.post(f"/v1/webhooks/{subscription['id']}/rotate-secret"), 201))
    return got


def test_documented_answers_have_the_shape_of_real_answers(launched: Launched) -> None:
    examples = documented_json("concepts.md", "engines.md", "webhooks.md")
    batches = [example for _, example in examples if isinstance(example, dict) and set(example) == {"events"}]
    assert len(batches) == 1, "concepts.md shows one batch request"
    with launched.admin() as admin:
        operator = provision(admin, launched.url, mode="test")
    with receiver(script=[400]) as hooks:  # the first delivery fails, so there is one to redeliver
        answers = real_answers(operator.client, batches[0], hooks.url)
    real = {json.dumps(shape(answer), sort_keys=True) for answer in answers}
    checked = 0
    for where, example in examples:
        if isinstance(example, dict) and set(example) == {"events"}:
            continue
        assert json.dumps(shape(example), sort_keys=True) in real, f"no real answer has the fields of {where}"
        checked += 1
    assert checked >= 20


# --- the pages against the application: routes and scopes, settings, problem types, links -----------------

PAGES = (
    "README.md",
    "quickstart.md",
    "concepts.md",
    "engines.md",
    "fairness.md",
    "webhooks.md",
    "operations.md",
    "benchmark.md",
)
ENGINES = ("lootbox", "mini-games", "raffles", "jackpots", "tournaments", "journeys")
SCOPE = r"(?:\*|[a-z]+:[a-z]+)"
# `METHOD /path...` in backticks, optionally followed by its scope: " (`scope`)" in prose, " | `scope` |" in tables
DOCUMENTED_ROUTE = re.compile(rf"`(GET|POST|PATCH|DELETE|PUT) (/[^`\s?]*)[^`]*`(?:\s*[|(]\s*`({SCOPE})`)?")


def prose(name: str) -> str:
    """A page without its fenced blocks."""
    return re.sub(r"^```.*?^```[ \t]*$", "", (DOCS / name).read_text(), flags=re.S | re.M)


def app_routes() -> dict[tuple[str, str], tuple[str, ...]]:
    """``{(method, path): scopes}`` of every route the API serves, paths with ``{name}`` placeholders; a page
    names a route's first scope (``GET /v1/operations/{id}`` takes any of three)."""
    app = create_app(load_settings({"WOWSINO_ADMIN_TOKEN": "x" * 32}))
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                found[(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))] = scopes_of(handler)
    return found


def documented_routes() -> list[tuple[str, str, str | None, str]]:
    """``(method, path, scope or None, page)`` for every route the pages name, ``<engine>`` expanded."""
    found = []
    for name in PAGES:
        for method, path, scope in DOCUMENTED_ROUTE.findall(prose(name)):
            for engine in ENGINES if "<engine>" in path else ("",):
                found.append((method, path.replace("<engine>", engine), scope or None, name))
    return found


def same_route(served: str, named: str) -> bool:
    """Whether a documented path names a served one: equal segments, any value for a placeholder."""
    a, b = served.strip("/").split("/"), named.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_every_route_is_documented_and_every_documented_route_is_served_with_its_scope() -> None:
    served = app_routes()
    named = documented_routes()
    assert len(served) > 60
    for method, path, scope, page in named:
        matches = [key for key in served if key[0] == method and same_route(key[1], path)]
        assert matches, f"docs/{page} names `{method} {path}`, which the API does not serve"
        if scope is not None:
            assert {served[key][:1] for key in matches} == {(scope,)}, (
                f"docs/{page}: `{method} {path}` needs {served[matches[0]]}"
            )
    undocumented = [
        f"{method} {path}"
        for method, path in sorted(served, key=lambda key: (key[1], key[0]))
        if not any(m == method and same_route(path, p) for m, p, _, _ in named)
    ]
    assert not undocumented, f"routes the docs never name: {undocumented}"

    # the scope table of concepts.md: each row's routes need exactly that row's scope
    rows = re.findall(rf"^\| `({SCOPE})` \| (.*) \|$", prose("concepts.md"), re.M)
    assert len(rows) == 7
    for scope, allows in rows:
        for method, path, _ in DOCUMENTED_ROUTE.findall(allows):
            matches = [key for key in served if key[0] == method and same_route(key[1], path)]
            assert matches and {served[key][:1] for key in matches} == {(scope,)}, f"`{method} {path}` is not {scope}"


def settings_tables() -> tuple[list[list[str]], list[list[str]]]:
    """The rows of the two tables under "## Settings" in operations.md: the settings, and the Procfile's own."""
    section = prose("operations.md").split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    tables: list[list[list[str]]] = [[]]
    for line in section.splitlines():
        if line.startswith("|"):
            tables[-1].append([cell.strip() for cell in line.strip("|").split("|")])
        elif tables[-1]:
            tables.append([])
    settings, procfile = [table[2:] for table in tables if table][:2]
    return settings, procfile


def test_settings_table_lists_every_setting_with_its_default() -> None:
    read = set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z_]+)"', inspect.getsource(load_settings)))
    settings, procfile = settings_tables()
    names = [row[0].strip("`") for row in settings]
    assert len(read) >= 20 and sorted(names) == sorted(read), (
        f"settings read but not documented (or gone): {read ^ set(names)}"
    )
    defaults = load_settings({})
    for row in settings:
        name, default = row[0].strip("`"), row[1]
        if default.startswith("none"):
            assert defaults.admin_token is None and name == "WOWSINO_ADMIN_TOKEN"
            continue
        literal = re.fullmatch(r"`([^`]+)`", default)
        assert literal, f"{name}: default {default!r} is not a literal"
        assert load_settings({name: literal[1]}) == defaults, f"{name}: the default is not {literal[1]}"
    documented = {name for row in procfile for name in re.findall(r"`([A-Z_]+)`", row[0])} | set(names)
    used = set(re.findall(r"\$\{?([A-Z_]+)", (ROOT / "Procfile").read_text()))
    assert used <= documented, f"the Procfile reads {used - documented}, which operations.md does not list"


def test_error_table_lists_exactly_the_problems_the_api_answers() -> None:
    request = SimpleNamespace(method="GET", url=SimpleNamespace(path="/"))
    answers = [errors.domain_problem(kind("x")) for kind in errors.STATUS_BY_ERROR]
    answers += [errors.http_problem(request, HTTPException(status_code=code)) for code in (400, 404, 405, 413)]
    answers += [errors.validation_problem(request, ValidationException())]
    answers += [errors.dependency_down(request, ConnectionError("down"))]
    answers += [errors.unexpected(request, RuntimeError("boom"))]
    problems = {(answer.status_code, answer.content["type"]) for answer in answers}
    table = re.findall(r"^\| (\d{3}) \| `([a-z-]+)` \|", prose("concepts.md"), re.M)
    documented = {(int(status), slug) for status, slug in table}
    assert len(table) == len(documented) and documented == problems, f"differences: {documented ^ problems}"


def github_anchors(name: str) -> set[str]:
    """The anchors GitHub gives the headings of a page."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(name), re.M):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        suffix = 0
        while (anchor if not suffix else f"{anchor}-{suffix}") in found:
            suffix += 1
        found.add(anchor if not suffix else f"{anchor}-{suffix}")
    return found


def test_links_between_pages_land_on_a_page_and_a_heading() -> None:
    checked = 0
    for name in PAGES:
        for target, anchor in re.findall(r"\]\((?!https?://)([^)#\s]*)(?:#([^)\s]*))?\)", prose(name)):
            page = target or name
            assert (DOCS / page).is_file(), f"docs/{name} links to {page}, which does not exist"
            if anchor:
                assert anchor in github_anchors(page), (
                    f"docs/{name} links to {page}#{anchor}, which has no such heading"
                )
            checked += 1
    assert checked > 50
