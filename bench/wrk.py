"""wrk as the load generator: a Lua script rendered from a workload, one JSON line of results back.

The API key reaches wrk through its environment (``BENCH_API_KEY``), never its command line.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from bench.load_result import LoadResult
from bench.procs import child_env
from bench.workload import BATCH_PATH, Workload

MARKER = "BENCH-RESULT "

SCRIPT = r"""
local items = { %(items)s }
local users = { %(users)s }
local tag, batch, ok_status = "%(tag)s", %(batch)d, %(ok_status)d
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("BENCH_API_KEY") }
local threads, made = {}, 0

function setup(thread)
  made = made + 1
  thread:set("sender", made)
  table.insert(threads, thread)
end

function init(args)
  prefix, counter, events, deduped, statuses = tag .. "." .. sender .. ".", 0, 0, 0, {}
  first_user = (sender - 1) * math.floor(#users / 2)  -- each thread's connections stand for players of their own
end

local function render()
  local item, user = items[(counter %% #items) + 1], users[((first_user + counter) %% #users) + 1]
  local body = string.format(item[2], user, prefix .. counter)
  counter = counter + 1
  return item[1], body
end

function request()
  if batch == 0 then
    local path, body = render()
    return wrk.format("POST", path, headers, body)
  end
  local parts = {}
  for k = 1, batch do
    local _, body = render()
    parts[k] = body
  end
  return wrk.format("POST", "%(batch_path)s", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end

function response(status, response_headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == ok_status then
    if batch == 0 and string.find(body, '"deduped":true', 1, true) then
      deduped = deduped + 1
    elseif batch == 0 then
      events = events + 1
    else
      local _, fresh = string.gsub(body, '"status":"accepted"', "")
      local _, repeats = string.gsub(body, '"status":"duplicate"', "")
      events, deduped = events + fresh, deduped + repeats
    end
  end
end

function done(summary, latency, requests)
  local total, accepted, repeated, codes = {}, 0, 0, {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do total[code] = (total[code] or 0) + n end
    accepted = accepted + thread:get("events")
    repeated = repeated + thread:get("deduped")
  end
  for code, n in pairs(total) do table.insert(codes, string.format('"%%d":%%d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"duration_us":%%d,"requests":%%d,"events":%%d,"deduped":%%d,"socket_errors":%%d,' ..
    '"p50":%%d,"p90":%%d,"p99":%%d,"max":%%d,"statuses":{%%s}}\n',
    summary.duration, summary.requests, accepted, repeated, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, table.concat(codes, ",")))
end
"""


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError("template cannot be quoted for Lua")
    return f"[==[{text}]==]"


def render(workload: Workload) -> str:
    """The Lua script that makes wrk send *workload*."""
    items = ", ".join(
        "{"
        + _lua_string(item.path)
        + ", "
        + _lua_string(item.template.replace("%", "%%").replace("$user", "%s").replace("$id", "%s"))
        + "}"
        for item in workload.items
    )
    return SCRIPT % {
        "items": items,
        "users": ", ".join(_lua_string(user) for user in workload.users),
        "tag": workload.tag,
        "batch": workload.batch,
        "ok_status": workload.ok_status,
        "batch_path": BATCH_PATH,
        "marker": MARKER,
    }


def run(workload: Workload, base_url: str, key: str, *, connections: int, duration_s: float) -> LoadResult:
    """wrk with 2 threads and *connections* connections for *duration_s* seconds (rounded to whole seconds)."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script = Path(folder) / "workload.lua"
        script.write_text(render(workload))
        seconds = max(1, round(duration_s))  # wrk takes whole seconds only
        argv = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s"]
        done = subprocess.run(
            [*argv, "--timeout", "10s", "-s", str(script), base_url],
            env=child_env({"BENCH_API_KEY": key}),
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
    raw = json.loads(lines[-1][len(MARKER) :])
    return LoadResult(
        generator="wrk",
        duration_s=raw["duration_us"] / 1e6,
        requests=raw["requests"],
        events=raw["events"],
        deduped=raw["deduped"],
        statuses={str(code): n for code, n in raw["statuses"].items()},
        socket_errors=raw["socket_errors"],
        latency_ms={name: round(raw[name] / 1000, 2) for name in ("p50", "p90", "p99", "max")},
    )
