DROP TABLE consumer_failures;
