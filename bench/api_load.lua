-- wrk script of the read API's load test (bench.api_load): a seeded mix of cache hits, cache misses and unknown
-- ids, with the bench's API key; classifies every answer by its status and body.
-- Arguments (after --): hot ids, first cold device, cold devices, API key, seed, wrk's threads.
-- Answers: 200 with "source":"cache" (a hit), 200 with "source":"cassandra" (a miss filled), 404 (an unknown id);
-- anything else (429, 503, 5xx, a 200 without a source) is unexpected: an error of the run.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  hot = tonumber(args[1])
  cold_first = tonumber(args[2])
  cold_count = tonumber(args[3])
  headers = { ["Authorization"] = "Bearer " .. args[4] }
  math.randomseed(tonumber(args[5]) + thread_index)
  -- Each thread walks its own share of the cold devices, so no id is a miss twice.
  cold_next = thread_index
  cold_stride = tonumber(args[6])
  hits, misses, not_found, unexpected = 0, 0, 0, 0
  sent_hit, sent_cold, sent_unknown, cold_wrapped = 0, 0, 0, 0
end

function request()
  local draw = math.random()
  local path
  if draw < 0.45 then
    sent_hit = sent_hit + 1
    path = "/devices/bench-dev-" .. math.random(0, hot - 1) .. "/latest"
  elseif draw < 0.80 then
    sent_hit = sent_hit + 1
    path = "/spaces/bench-space-" .. math.random(0, hot - 1) .. "/critical-events"
  elseif draw < 0.90 then
    sent_cold = sent_cold + 1
    if cold_next >= cold_count then
      cold_next = thread_index
      cold_wrapped = cold_wrapped + 1
    end
    path = "/devices/bench-dev-" .. (cold_first + cold_next) .. "/latest"
    cold_next = cold_next + cold_stride
  else
    sent_unknown = sent_unknown + 1
    if math.random() < 0.5 then
      path = "/devices/no-such-device-" .. math.random(1, 1000000000) .. "/latest"
    else
      path = "/spaces/no-such-space-" .. math.random(1, 1000000000) .. "/critical-events"
    end
  end
  return wrk.format("GET", path, headers)
end

function response(status, response_headers, body)
  if status == 200 and string.find(body, '"source":"cache"', 1, true) then
    hits = hits + 1
  elseif status == 200 and string.find(body, '"source":"cassandra"', 1, true) then
    misses = misses + 1
  elseif status == 404 then
    not_found = not_found + 1
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local names = { "hits", "misses", "not_found", "unexpected", "sent_hit", "sent_cold", "sent_unknown", "cold_wrapped" }
  local totals = {}
  for _, name in ipairs(names) do
    totals[name] = 0
    for _, thread in ipairs(threads) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local parts = {}
  for _, name in ipairs(names) do
    table.insert(parts, string.format('"%s":%d', name, totals[name]))
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.timeout, table.concat(parts, ",")
  ))
end
