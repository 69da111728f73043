-- Feedline read mix for wrk: home feed / a user's posts / post creation, by share of requests.
-- Args (after --): users_file feed_share posts_share pace_ms
-- users_file: one "token username" line per benchmark user, or "-" for a plain GET of the URL
-- wrk is given (the ceiling runs). pace_ms > 0 adds an exponential think time per connection,
-- so a run can hold a target rate instead of the peak.
local threads = {}
local users = {}
local feed_share, posts_share, pace_ms = 0.8, 0.15, 0
local counts = { feed = 0, posts = 0, create = 0, bad = 0 }
local plain = false

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  plain = args[1] == "-"
  if not plain then
    for line in io.lines(args[1]) do
      local token, name = line:match("^(%S+)%s+(%S+)$")
      if token then table.insert(users, { token = token, name = name }) end
    end
  end
  feed_share = tonumber(args[2]) or feed_share
  posts_share = tonumber(args[3]) or posts_share
  pace_ms = tonumber(args[4]) or 0
  math.randomseed(os.time() + tonumber(tostring(users):match("0x(%x+)") or "0", 16) % 1000)
end

-- uvicorn closes a keep-alive connection idle for 5 s: longer pauses would measure reconnects.
local MAX_DELAY_MS = 4000

function delay()
  if pace_ms <= 0 then return 0 end
  return math.min(MAX_DELAY_MS, math.floor(-math.log(1 - math.random()) * pace_ms))
end

local function count(kind)
  -- Counted when sent: wrk does not say which request a response answers.
  counts[kind] = counts[kind] + 1
  feed_n, posts_n, create_n = counts.feed, counts.posts, counts.create
end

function request()
  if plain then
    count("feed")
    return wrk.format("GET")
  end
  local user = users[math.random(#users)]
  local headers = { ["Authorization"] = "Bearer " .. user.token }
  local draw = math.random()
  if draw < feed_share then
    count("feed")
    return wrk.format("GET", "/api/v1/feed", headers)
  elseif draw < feed_share + posts_share then
    local other = users[math.random(#users)]
    count("posts")
    return wrk.format("GET", "/api/v1/users/" .. other.name .. "/posts", headers)
  end
  headers["Content-Type"] = "application/json"
  count("create")
  local body = '{"caption": "bench post ' .. math.random(1000000) .. '"}'
  return wrk.format("POST", "/api/v1/posts", headers, body)
end

function response(status, headers, body)
  if status >= 400 then
    counts.bad = counts.bad + 1
    bad_n = counts.bad
  end
end

function done(summary, latency, requests)
  local totals = { feed = 0, posts = 0, create = 0, bad = 0 }
  for _, thread in ipairs(threads) do
    totals.feed = totals.feed + (thread:get("feed_n") or 0)
    totals.posts = totals.posts + (thread:get("posts_n") or 0)
    totals.create = totals.create + (thread:get("create_n") or 0)
    totals.bad = totals.bad + (thread:get("bad_n") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "non_2xx": %d, "status_4xx_5xx": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"feed": %d, "posts": %d, "create": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, latency.mean, e.status,
    totals.bad, e.connect, e.read, e.write, e.timeout, totals.feed, totals.posts, totals.create))
end
