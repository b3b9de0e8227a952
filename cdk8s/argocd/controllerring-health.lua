-- Argo CD health check for ControllerRing (sharding.controller-rings.io/v1alpha1), from the ring's status:
-- Progressing until the sharder has reported on the ring's current generation, then Healthy or Degraded by
-- the Ready condition, whose message says what is wrong and what to do. Lua 5.1 (Argo CD's gopher-lua).
local hs = {}

local function ready_condition(status)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the sharder to report the ring's status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for the sharder to observe generation %d", generation)
  return hs
end

local ready = ready_condition(status)
if ready == nil or (ready.status ~= "True" and ready.status ~= "False") then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
else
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
end
return hs
