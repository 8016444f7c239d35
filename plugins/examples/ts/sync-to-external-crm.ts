import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";
import { salesOrder } from "../tailordb/salesOrder";

export default createExecutor({
  name: "sync-to-external-crm",
  description: "Sync sales orders to external CRM system",
  trigger: recordCreatedTrigger({
    type: salesOrder,
    condition: ({ newRecord }) => (newRecord.totalPrice ?? 0) > 100000,
  }),
  operation: {
    kind: "webhook",
    url: "https://crm.example.com/api/v1/orders",
    headers: {
      "Content-Type": "application/json",
      "Authorization": { vault: "api-keys", key: "crm-api-token" },
      "X-API-Key": { vault: "api-keys", key: "crm-api-key" },
    },
    requestBody: ({ newRecord }) => ({
      orderId: newRecord.id,
      customerId: newRecord.customerID,
      totalPrice: newRecord.totalPrice,
      status: newRecord.status,
      createdAt: newRecord.createdAt,
    }),
  },
});
