// Package triggers owns the events that make executors fire: record events
// in the platform's raw format and from Debezium change streams, cron
// schedules with time zones, incoming webhook requests, and the durable log
// of accepted events.
package triggers
