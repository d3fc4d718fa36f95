-- Case-exact value filters find their rows through the folded index
-- (`folded = fold(x) AND value = x`): this index doubled the index writes
-- of every profile's value rows for the few case-exact attributes. A
-- listed contract step: a previous release's queries stay correct without
-- it, only its case-exact value filters scan an attribute's rows.
DROP INDEX user_values_exact;
