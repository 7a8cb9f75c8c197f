-- POST /parlor/v1/conversations/{id}/messages with a small JSON body, cycling over the
-- "token conversation_id" pairs in $BENCH_SEND_PAIRS: each request is sent by a participant of
-- the conversation with that user's own token. Each wrk thread starts at its own offset.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local requests_ = {}
local i = 0

function init(args)
  local path = assert(os.getenv("BENCH_SEND_PAIRS"), "BENCH_SEND_PAIRS unset")
  for line in io.lines(path) do
    local tok, conv = string.match(line, "^(%S+)%s+(%d+)%s*$")
    if tok then
      table.insert(requests_, wrk.format("POST",
        "/parlor/v1/conversations/" .. conv .. "/messages",
        { ["Authorization"] = "Bearer " .. tok,
          ["Content-Type"] = "application/json",
          ["Accept"] = "application/json" },
        '{"body":"bench: running ten minutes late, sorry!"}'))
    end
  end
  assert(#requests_ > 0, "no send pairs in " .. path)
  -- Spread the threads over the list (tid is set by setup before init runs).
  i = (tid or 0) * 7919 % #requests_
end

function request()
  i = i % #requests_ + 1
  return requests_[i]
end
