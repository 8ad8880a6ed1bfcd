-- Requests for benchmark 3, one mode per run:
--   wrk -s bench/wrk/service.lua URL -- MODE TOKEN WORDS_FILE
-- MODE: cached (one fixed query), uncached (random word pairs and pages: a cache miss
-- nearly every time), write (a new small document), autocomplete (random prefixes),
-- bare (GET /json, no token).
local mode, token, words = "bare", "", {}
local counter = 0

function init(args)
  mode = args[1] or "bare"
  token = args[2] or ""
  if args[3] then
    for line in io.lines(args[3]) do words[#words + 1] = line end
  end
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end

local function word() return words[math.random(#words)] end

function request()
  local headers = { ["Authorization"] = "Bearer " .. token, ["X-Synthetic"] = "gameday-bench" }
  if mode == "cached" then
    return wrk.format("GET", "/v1/search?q=" .. words[1], headers)
  elseif mode == "uncached" then
    local path = "/v1/search?q=" .. word() .. "+" .. word() .. "&page=" .. math.random(1, 3)
    return wrk.format("GET", path, headers)
  elseif mode == "autocomplete" then
    local w = word()
    return wrk.format("GET", "/v1/autocomplete?prefix=" .. w:sub(1, math.random(2, #w)), headers)
  elseif mode == "write" then
    counter = counter + 1
    headers["Content-Type"] = "application/json"
    local body = '{"title":"bench ' .. word() .. " " .. counter .. '","body":"' .. word() ..
      " " .. word() .. " " .. word() .. '","tags":["bench"]}'
    return wrk.format("POST", "/v1/documents", headers, body)
  end
  return wrk.format("GET", "/json")
end
