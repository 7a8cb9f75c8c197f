-- GET the URL given to wrk (a list) as one caller: with $BENCH_TOKEN as a bearer token, or with
-- the headers in $BENCH_HEADERS, one "Name: value" per line (the faces authenticate each in
-- its own way).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

wrk.method = "GET"

-- $BENCH_PATHS (one path per line): the requests to cycle through instead of the URL's path.
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^\n]+") do
  paths[#paths + 1] = path
end
if #paths > 0 then
  local next_path = 0
  request = function()
    next_path = next_path % #paths + 1
    return wrk.format(nil, paths[next_path])
  end
end
wrk.headers["Accept"] = "application/json"
local headers = os.getenv("BENCH_HEADERS")
if headers and headers ~= "" then
  for line in string.gmatch(headers, "[^\n]+") do
    local name, value = string.match(line, "^%s*([^:]+):%s*(.-)%s*$")
    assert(name, "not a header line in BENCH_HEADERS: " .. line)
    wrk.headers[name] = value
  end
else
  wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN unset")
end
