-- Shared by every bench script: one machine-readable line at the end of a wrk run.
-- RESULT requests=N duration_us=N rps=N p50_us=N p99_us=N connect=N read=N write=N status=N timeout=N
local M = {}
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
return M
