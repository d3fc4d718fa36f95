DROP TABLE event_consumers;
