-- wrk script for the benchmark kit (bench/run). The request comes from the environment:
--   WRK_METHOD (default GET), WRK_BODY_FILE (a file whose bytes are the body),
--   WRK_CONTENT_TYPE (the body's Content-Type).
-- At the end it prints one JSON line: requests, seconds, status errors (non-2xx/3xx), socket
-- errors, and latency percentiles in microseconds.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body_file = os.getenv("WRK_BODY_FILE")
if body_file then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
