-- A plain GET of the URL wrk is given (the ceiling runs); prints the same summary as mix.lua.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "non_2xx": %d, "status_4xx_5xx": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"feed": %d, "posts": %d, "create": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, latency.mean, e.status,
    e.status, e.connect, e.read, e.write, e.timeout, summary.requests, 0, 0))
end
