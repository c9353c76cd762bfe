-- 740_governance_udi.sql — medcrm.parse_udi reads GS1 element strings in both
-- spellings and names the bad element of an invalid one; installed_device.udi
-- must agree with batch_no, serial_no and the product's GTIN.
BEGIN;
SELECT plan(32);
\ir ../fixtures/one_row_each.sql

-- parsing
SELECT results_eq($$SELECT * FROM medcrm.parse_udi('(01)09506000134352(17)261231(10)A123(21)S-0001')$$,
  $$VALUES ('09506000134352', 'A123', 'S-0001', '2026-12-31'::date, NULL::date)$$, 'bracketed form');
SELECT results_eq($$SELECT * FROM medcrm.parse_udi(E'010950600013435217261231' || '10A123' || E'\x1d' || '21S-0001')$$,
  $$VALUES ('09506000134352', 'A123', 'S-0001', '2026-12-31'::date, NULL::date)$$, 'GS-separated form');
SELECT results_eq($$SELECT * FROM medcrm.parse_udi(E']d2\x1d0109506000134352\x1d11240100' || '21SN7' || E'\x1d' || '10L9')$$,
  $$VALUES ('09506000134352', 'L9', 'SN7', NULL::date, '2024-01-31'::date)$$,
  'symbology identifier, FNC1, a GS after a fixed-length element, DD=00 = end of month');
SELECT is((SELECT expiry FROM medcrm.parse_udi('(01)09506000134352(17)240200')), '2024-02-29'::date,
          'DD=00 in a leap February is the 29th');
SELECT is((SELECT expiry FROM medcrm.parse_udi('(01)09506000134352(17)250200')), '2025-02-28'::date,
          'DD=00 in a common February is the 28th');
SELECT results_eq($$SELECT * FROM medcrm.parse_udi(' (01)09506000134352 ')$$,
  $$VALUES ('09506000134352', NULL::text, NULL::text, NULL::date, NULL::date)$$, 'a GTIN alone, blanks around it ignored');
SELECT is((SELECT count(*)::int FROM medcrm.parse_udi(NULL)), 0, 'NULL gives no row');

SELECT throws_ok(format('SELECT * FROM medcrm.parse_udi(%L)', u), '22P02', m, format('%s: %s', u, m))
  FROM (VALUES
    ('(01)09506000134353', 'invalid UDI element (01)'),
    ('(01)0950600013435', 'invalid UDI element (01)'),
    ('(01)09506000134352(17)261301', 'invalid UDI element (17)'),
    ('(01)09506000134352(17)250230', 'invalid UDI element (17)'),
    ('(01)09506000134352(11)2512', 'invalid UDI element (11)'),
    ('(01)09506000134352(10)', 'invalid UDI element (10)'),
    ('(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU', 'invalid UDI element (10)'),
    ('(01)09506000134352(21)S N', 'invalid UDI element (21)'),
    ('(01)09506000134352(10)A(10)B', 'invalid UDI element (10)'),
    ('(01)09506000134352(240)X', 'unsupported UDI element (240)'),
    ('(10)A123', 'invalid UDI element (01)'),
    ('0109506000134352ZZ', 'invalid UDI syntax'),
    ('(01', 'invalid UDI syntax'),
    ('', 'invalid UDI syntax')) AS t(u, m);
SELECT throws_ok($$SELECT * FROM medcrm.parse_udi(E'0109506000134352' || '10A' || E'\x1d')$$, '22P02',
                 'invalid UDI syntax', 'a trailing GS is refused');
SELECT throws_ok($$SELECT * FROM medcrm.parse_udi('(01)09506000134353')$$, '22P02', 'invalid UDI element (01)',
                 'the error names the element');

-- installed_device.udi agrees with batch_no, serial_no and the product's GTIN (06901234567892)
SELECT lives_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, batch_no, udi)
                  VALUES (930001, 900001, 900001, 'SN-U1', 'LOT-7', '(01)06901234567892(10)LOT-7(21)SN-U1')$$,
                'a UDI that agrees is accepted');
SELECT throws_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, batch_no, udi)
                   VALUES (930002, 900001, 900001, 'SN-U2', 'LOT-8', '(01)06901234567892(10)LOT-7(21)SN-U2')$$,
                 '23514', 'udi of installed device 930002 disagrees with its batch_no', 'a lot that differs from batch_no is refused');
SELECT throws_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, batch_no, udi)
                   VALUES (930002, 900001, 900001, 'SN-U2', NULL, '(01)06901234567892(10)LOT-7')$$,
                 '23514', 'udi of installed device 930002 disagrees with its batch_no', 'a lot without batch_no is refused');
SELECT throws_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, udi)
                   VALUES (930002, 900001, 900001, 'SN-U2', '(01)06901234567892(21)SN-XX')$$,
                 '23514', 'udi of installed device 930002 disagrees with its serial_no', 'a serial that differs is refused');
SELECT throws_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, udi)
                   VALUES (930002, 900001, 900001, 'SN-U2', '(01)09506000134352(21)SN-U2')$$,
                 '23514', 'udi of installed device 930002 disagrees with its product''s GTIN', 'a GTIN of another product is refused');
SELECT throws_ok($$INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, udi)
                   VALUES (930002, 900001, 900001, 'SN-U2', '(01)06901234567893')$$,
                 '22P02', 'invalid UDI element (01)', 'an invalid UDI is refused naming the element');
SELECT throws_ok($$UPDATE medcrm.installed_device SET batch_no = 'LOT-9' WHERE id = 930001$$,
                 '23514', 'udi of installed device 930001 disagrees with its batch_no', 'an UPDATE of batch_no is checked');
SELECT throws_ok($$UPDATE medcrm.product SET gtin = '09506000134352' WHERE id = 900001$$,
                 '23514', 'udi of installed device 930001 disagrees with its product''s GTIN',
                 'changing the product''s GTIN under existing UDIs is refused');
SELECT lives_ok($$UPDATE medcrm.installed_device SET batch_no = 'LOT-9', udi = E'0106901234567892' || '10LOT-9' || E'\x1d' || '21SN-U1'
                  WHERE id = 930001$$, 'batch_no and UDI changed together are accepted');

SELECT * FROM finish();
ROLLBACK;
