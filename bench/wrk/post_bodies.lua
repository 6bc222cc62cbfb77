-- wrk driver for bench/ingest.py: POSTs pre-encoded JSON bodies in a cycle.
--
-- Environment:
--   BENCH_BODIES        file with one request body per line (required)
--   BENCH_PATH          request path (default /api/event)
--   BENCH_KEY           value of the x-api-key header (the site's ingest key)
--   BENCH_COUNT_STATUS  "1": count responses per HTTP status (costs wrk some CPU)
--   BENCH_DELAY_MS      >0: each connection waits this long between requests
--                       (a rough rate cap for "moderate load" runs)
-- done() prints one line "BENCHJSON {...}" with requests, duration, latency
-- percentiles (microseconds), socket errors and the per-status counts.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local idx = 1
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
statuses = {}

function init(args)
  local file = os.getenv("BENCH_BODIES")
  local path = os.getenv("BENCH_PATH") or "/api/event"
  local headers = {
    ["Content-Type"] = "application/json",
    ["x-api-key"] = os.getenv("BENCH_KEY") or "",
    ["User-Agent"] = "footfall-bench (wrk)",
  }
  for line in io.lines(file) do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format("POST", path, headers, line)
    end
  end
  -- threads start at different offsets so they do not send the same bodies in step
  idx = (id * 7919) % #reqs + 1
end

function request()
  local r = reqs[idx]
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return r
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

if os.getenv("BENCH_COUNT_STATUS") == "1" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(total) do parts[#parts + 1] = string.format('"%d": %d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ", ")))
end
