-- wrk script for bench/webhooks_http.py: each thread replays its share of pre-signed events.
local lines = {}
local position = 0

function setup(thread)
  thread:set("index", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local i = 0
  for line in io.lines(path) do
    if i % threads == index then
      local tab = line:find("\t", 1, true)
      lines[#lines + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
    end
    i = i + 1
  end
end

function request()
  position = position % #lines + 1
  local item = lines[position]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Sandbox-Signature"] = item[1]}, item[2])
end
