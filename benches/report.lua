-- Shared by list.lua and send.lua (loaded with dofile). Counts responses by status class in
-- each wrk thread and prints one machine-readable RESULT line at the end, which run.sh parses:
--   RESULT requests=N duration_s=S rps=R ok2xx=N non2xx=N sock_errors=N
--          p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=..
-- plus FIRST_ERROR <status> <body prefix> when any response was not 2xx.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

ok2xx = 0
non2xx = 0
first_error = ""

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local ok, non, err = 0, 0, ""
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok2xx") or 0)
    non = non + (t:get("non2xx") or 0)
    local e = t:get("first_error")
    if err == "" and e ~= nil then err = e end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f ok2xx=%d non2xx=%d sock_errors=%d " ..
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f\n",
    summary.requests, secs, summary.requests / secs, ok, non,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
  if err ~= "" then
    io.write("FIRST_ERROR " .. string.gsub(err, "%s+", " ") .. "\n")
  end
end
