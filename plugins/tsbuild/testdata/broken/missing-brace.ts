import { createExecutor, scheduleTrigger } from "@tailor-platform/sdk";

export default createExecutor({
  name: "missing-brace",
  trigger: scheduleTrigger({ cron: "0 * * * *" }),
  operation: {
    kind: "webhook",
    url: "https://example.com/hourly",
