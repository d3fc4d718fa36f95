-- Substring search over people ("mith" finds Smith) through trigram
-- indexes (the next two migrations build them). pg_trgm is a trusted
-- extension (PostgreSQL 13+): the database's owner may create it; it
-- ships in Debian's postgresql package and most distributions'
-- postgresql-contrib. Additive.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
