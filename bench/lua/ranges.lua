-- wrk: each request asks for one random byte range of a file.
-- BENCH_RANGE_SIZE (file size) and BENCH_RANGE_LEN (bytes per request) come
-- from the environment; the summary is printed as one JSON line for bench/serving.py.
local size = tonumber(os.getenv("BENCH_RANGE_SIZE"))
local len = tonumber(os.getenv("BENCH_RANGE_LEN"))
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  local start = math.random(0, size - len)
  local range = string.format("bytes=%d-%d", start, start + len - 1)
  return wrk.format("GET", nil, { ["Range"] = range })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(99)))
end
