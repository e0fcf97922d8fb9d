-- Demo person register (a table standing in for Folkeregisteret / SPAR): addresses by national id.
SELECT national_id, name, street, postcode, city
FROM erp_person_register
WHERE national_id IN :ids
