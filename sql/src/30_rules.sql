-- sql/src/30_rules.sql — rule-driven tasks: validation of rules, the triggers
-- that turn business events into tasks, SLA deadlines and routing of work
-- orders, medcrm.run_time_rules() for what time alone triggers, and the
-- default rules. The C code is in extension/rules.c (SPI and triggers),
-- extension/rules_logic.c (conditions, templates, SLA arithmetic, routing)
-- and extension/sla.c (work-order deadlines). Guide: docs/rules.md.

-- Rules are checked when written: unknown event (23514), unknown condition
-- key or malformed value, unknown placeholder, bad assignee (22023).
CREATE FUNCTION medcrm.rule_validate() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_rule_validate';
COMMENT ON FUNCTION medcrm.rule_validate() IS
    'BEFORE INSERT OR UPDATE row trigger of medcrm.rule: refuses an unknown event, a malformed condition, an unknown placeholder or a bad assignee.';
REVOKE ALL ON FUNCTION medcrm.rule_validate() FROM PUBLIC;
CREATE TRIGGER rule_validate BEFORE INSERT OR UPDATE ON medcrm.rule
    FOR EACH ROW EXECUTE FUNCTION medcrm.rule_validate();

-- done_at follows status.
CREATE FUNCTION medcrm.task_set_done_at() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_task_set_done_at';
COMMENT ON FUNCTION medcrm.task_set_done_at() IS
    'BEFORE INSERT OR UPDATE row trigger of medcrm.task: stamps done_at with now() when status becomes done (unless given), clears it when an update moves the task out of done.';
REVOKE ALL ON FUNCTION medcrm.task_set_done_at() FROM PUBLIC;
CREATE TRIGGER task_set_done_at BEFORE INSERT OR UPDATE ON medcrm.task
    FOR EACH ROW EXECUTE FUNCTION medcrm.task_set_done_at();

-- SLA deadlines and team routing of new work orders (a row trigger on
-- purpose: see extension/sla.c and docs/rules.md).
CREATE FUNCTION medcrm.work_order_set_deadlines() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_work_order_set_deadlines';
COMMENT ON FUNCTION medcrm.work_order_set_deadlines() IS
    'BEFORE INSERT row trigger of medcrm.work_order: fills response_due_at and resolve_due_at from medcrm.sla_policy (account service level, priority) and assigned_team by region and kind, national team as fallback; values given by the application are kept.';
REVOKE ALL ON FUNCTION medcrm.work_order_set_deadlines() FROM PUBLIC;
CREATE TRIGGER work_order_set_deadlines BEFORE INSERT ON medcrm.work_order
    FOR EACH ROW EXECUTE FUNCTION medcrm.work_order_set_deadlines();

-- The statement-level AFTER triggers that create tasks. SECURITY DEFINER:
-- the writers of business rows may not insert tasks (18_grants.sql) and see
-- only their rows of task (row-level security); the function runs as the
-- extension owner with a safe search_path.
CREATE FUNCTION medcrm.fire_rules() RETURNS trigger
    LANGUAGE c SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_fire_rules';
COMMENT ON FUNCTION medcrm.fire_rules() IS
    'Statement-level AFTER INSERT/UPDATE trigger (transition tables new_rows, old_rows) of opportunity, contract, work_order, recall, sample_loan and tier_history: evaluates the enabled rules of the event and inserts one task per (rule, source row, occurrence).';
REVOKE ALL ON FUNCTION medcrm.fire_rules() FROM PUBLIC;

CREATE TRIGGER opportunity_rules_insert AFTER INSERT ON medcrm.opportunity
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER opportunity_rules_update AFTER UPDATE ON medcrm.opportunity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER contract_rules_insert AFTER INSERT ON medcrm.contract
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER contract_rules_update AFTER UPDATE ON medcrm.contract
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER work_order_rules_insert AFTER INSERT ON medcrm.work_order
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER recall_rules_insert AFTER INSERT ON medcrm.recall
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER recall_rules_update AFTER UPDATE ON medcrm.recall
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER sample_loan_rules_insert AFTER INSERT ON medcrm.sample_loan
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER sample_loan_rules_update AFTER UPDATE ON medcrm.sample_loan
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();
CREATE TRIGGER tier_history_rules_insert AFTER INSERT ON medcrm.tier_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.fire_rules();

COMMENT ON TRIGGER opportunity_rules_insert ON medcrm.opportunity IS 'opportunity_stage rules for new opportunities (entering their first stage).';
COMMENT ON TRIGGER opportunity_rules_update ON medcrm.opportunity IS 'opportunity_stage rules for opportunities whose stage changed.';
COMMENT ON TRIGGER contract_rules_insert ON medcrm.contract IS 'contract_renewal and contract_expired rules for new contracts already in their window; a renewal (renewed_from) closes the renewal tasks of its predecessor.';
COMMENT ON TRIGGER contract_rules_update ON medcrm.contract IS 'contract_renewal and contract_expired rules for changed contracts already in their window.';
COMMENT ON TRIGGER work_order_rules_insert ON medcrm.work_order IS 'work_order rules (dispatch tasks) for new open work orders.';
COMMENT ON TRIGGER recall_rules_insert ON medcrm.recall IS 'Marks the affected installed devices recalled and creates one recall_action task per device (recall rules).';
COMMENT ON TRIGGER recall_rules_update ON medcrm.recall IS 'Same as recall_rules_insert for changed recalls (a wider scope adds devices; existing tasks stay single).';
COMMENT ON TRIGGER sample_loan_rules_insert ON medcrm.sample_loan IS 'sample_loan rules (return task) for new loans.';
COMMENT ON TRIGGER sample_loan_rules_update ON medcrm.sample_loan IS 'A returned sample closes its open sample_return tasks.';
COMMENT ON TRIGGER tier_history_rules_insert ON medcrm.tier_history IS 'tier_change rules for every recorded change of an account''s effective tier.';
COMMENT ON TRIGGER work_order_set_deadlines ON medcrm.work_order IS 'SLA deadlines and service-team routing of new work orders.';
COMMENT ON TRIGGER rule_validate ON medcrm.rule IS 'Refuses malformed rules when they are written.';
COMMENT ON TRIGGER task_set_done_at ON medcrm.task IS 'Keeps done_at in step with status.';

CREATE FUNCTION medcrm.run_time_rules(as_of timestamptz DEFAULT now()) RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_run_time_rules';
COMMENT ON FUNCTION medcrm.run_time_rules(timestamptz) IS
    'Evaluates the time-driven rules as of a moment: contracts entering their renewal window, expired unrenewed contracts, certificates and product registrations nearing expiry, warranties ending, overdue sample loans, work orders past their SLA deadlines, open data-quality findings. Idempotent (one task per rule, source row and occurrence); returns the number of tasks created. Schedule it daily (docs/rules.md).';
REVOKE ALL ON FUNCTION medcrm.run_time_rules(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.run_time_rules(timestamptz) TO medcrm_admin, medcrm_reporter;

-- The default rules: one or more for every event of DOMAIN.md, with per-tier
-- cadences. Ids below 1000 are reserved for them; DBAs edit them in place
-- (they stay "shipped", and a restore keeps the edited version).
INSERT INTO medcrm.rule (id, name, event, condition, task_kind, title_template, due_offset,
                         assignee, priority, note, shipped) VALUES
  -- opportunity stages
  (1, 'opportunity qualified', 'opportunity_stage', '{"stage": "qualified"}', 'follow_up',
   'Plan the next step with {account_name}: opportunity {opportunity_id} is qualified', '3 days',
   'owner', 3, 'Follow up within 3 days of qualification.', true),
  (2, 'opportunity demo, tier A', 'opportunity_stage', '{"stage": "demo", "tier": "A"}', 'follow_up',
   'Arrange the {product_name} demo for {account_name} (tier A)', '2 days',
   'owner', 2, 'Tier A accounts get their demo within 2 days.', true),
  (3, 'opportunity demo, other tiers', 'opportunity_stage', '{"stage": "demo", "tier": ["B", "C", "D", null]}', 'follow_up',
   'Arrange the {product_name} demo for {account_name}', '5 days',
   'owner', 3, NULL, true),
  (4, 'opportunity trial', 'opportunity_stage', '{"stage": "trial"}', 'follow_up',
   'Check the trial of {product_name} at {account_name} and plan user training', '7 days',
   'owner', 3, NULL, true),
  (5, 'opportunity tender', 'opportunity_stage', '{"stage": "tender"}', 'follow_up',
   'Prepare the tender documents for {account_name} (opportunity {opportunity_id})', '2 days',
   'owner', 2, NULL, true),
  (6, 'opportunity negotiation', 'opportunity_stage', '{"stage": "negotiation"}', 'follow_up',
   'Agree terms with {account_name}: {amount} for {product_name}', '5 days',
   'owner', 3, NULL, true),
  (7, 'opportunity won', 'opportunity_stage', '{"stage": "won"}', 'follow_up',
   'Hand {account_name} over to service: installation and training for {product_name}', '7 days',
   'owner', 3, NULL, true),
  (8, 'opportunity lost', 'opportunity_stage', '{"stage": "lost"}', 'follow_up',
   'Debrief the lost opportunity {opportunity_id} at {account_name} (was {previous_stage})', '14 days',
   'owner', 4, NULL, true),
  -- contract renewal windows per tier, and escalation
  (10, 'renewal window, tier A', 'contract_renewal', '{"tier": "A", "within_days": 120}', 'renewal',
   'Renew contract {contract_no} of {account_name}: ends {ends_on}', '-30 days',
   'owner', 2, 'Tier A: 120-day window; renewal due 30 days before the end.', true),
  (11, 'renewal window, tier B', 'contract_renewal', '{"tier": "B", "within_days": 90}', 'renewal',
   'Renew contract {contract_no} of {account_name}: ends {ends_on}', '-30 days',
   'owner', 3, 'Tier B: 90-day window.', true),
  (12, 'renewal window, tiers C and D', 'contract_renewal', '{"tier": ["C", "D", null], "within_days": 60}', 'renewal',
   'Renew contract {contract_no} of {account_name}: ends {ends_on}', '-14 days',
   'owner', 3, 'Tiers C, D and untiered accounts: 60-day window.', true),
  (13, 'expired contract not renewed', 'contract_expired', '{}', 'renewal_escalation',
   'Escalate: contract {contract_no} of {account_name} ended {ends_on} without renewal', '3 days',
   'medcrm_sales', 1, 'An active contract past its end with no successor.', true),
  -- work orders: dispatch and SLA breaches
  (20, 'dispatch urgent fault', 'work_order', '{"kind": "fault", "priority": [1, 2]}', 'dispatch',
   'Dispatch {team_name} to {account_name}: priority {priority} fault, respond by {response_due}', '0',
   'team', 1, 'Due at the response deadline.', true),
  (21, 'dispatch fault', 'work_order', '{"kind": "fault", "priority": [3, 4]}', 'dispatch',
   'Dispatch {team_name} to {account_name}: fault, respond by {response_due}', '0',
   'team', 3, NULL, true),
  (22, 'schedule install, training or recall visit', 'work_order', '{"kind": ["install", "training", "recall"]}', 'dispatch',
   'Schedule the {kind} visit of {team_name} at {account_name}', '0',
   'team', 3, NULL, true),
  (23, 'response deadline missed', 'work_order', '{"breached": "response"}', 'dispatch',
   'Escalate work order {work_order_id} at {account_name}: no response by {response_due}', '2 hours',
   'medcrm_service', 1, 'Found by run_time_rules().', true),
  (24, 'resolution deadline missed', 'work_order', '{"breached": "resolve"}', 'dispatch',
   'Escalate work order {work_order_id} at {account_name}: not resolved by {resolve_due}', '4 hours',
   'medcrm_service', 1, 'Found by run_time_rules().', true),
  -- recalls: one action per affected device
  (30, 'recall class I', 'recall', '{"class": "I"}', 'recall_action',
   'Recall {recall_id} (class I): {product_name} SN {serial_no}, batch {batch_no}, at {account_name}', '2 days',
   'medcrm_service', 1, NULL, true),
  (31, 'recall class II', 'recall', '{"class": "II"}', 'recall_action',
   'Recall {recall_id} (class II): {product_name} SN {serial_no}, batch {batch_no}, at {account_name}', '7 days',
   'medcrm_service', 2, NULL, true),
  (32, 'recall class III', 'recall', '{"class": "III"}', 'recall_action',
   'Recall {recall_id} (class III): {product_name} SN {serial_no}, batch {batch_no}, at {account_name}', '30 days',
   'medcrm_service', 3, NULL, true),
  -- certificates, registrations, warranties
  (40, 'product registration expiring', 'certificate_expiry',
   '{"certificate_kind": "product_registration", "within_days": 180}', 'certificate_expiry',
   'Renew registration {certificate_no} ({product_name}): expires {valid_to}', '-90 days',
   'medcrm_quality', 2, 'Registration renewals take months: 180-day window.', true),
  (41, 'distributor licence expiring', 'certificate_expiry',
   '{"certificate_kind": ["distributor_license", "distributor_authorization"], "within_days": 90}', 'certificate_expiry',
   'Renew the {certificate_kind} {certificate_no} of {account_name}: expires {valid_to}', '-30 days',
   'owner', 2, NULL, true),
  (50, 'warranty ending, tier A', 'warranty_expiry', '{"tier": "A", "within_days": 90}', 'warranty_expiry',
   'Offer a service contract for {product_name} SN {serial_no} at {account_name}: warranty ends {warranty_ends}', '-30 days',
   'owner', 2, NULL, true),
  (51, 'warranty ending, other tiers', 'warranty_expiry', '{"tier": ["B", "C", "D", null], "within_days": 60}', 'warranty_expiry',
   'Offer a service contract for {product_name} SN {serial_no} at {account_name}: warranty ends {warranty_ends}', '-14 days',
   'owner', 3, NULL, true),
  -- tier changes
  (60, 'account enters tier A', 'tier_change', '{"new_tier": "A", "direction": ["up", "first"]}', 'tier_change',
   'Assign a senior account manager to {account_name} (now tier A, score {score})', '7 days',
   'medcrm_admin', 2, 'Tier A accounts: senior account manager, quick service channel, training plan.', true),
  (61, 'account drops from tier A', 'tier_change', '{"old_tier": "A", "direction": "down"}', 'tier_change',
   'Review {account_name}: dropped from tier {old_tier} to {new_tier}', '14 days',
   'owner', 2, 'A tier drop makes the account high-risk.', true),
  -- sample loans
  (70, 'sample lent', 'sample_loan', '{}', 'sample_return',
   'Collect sample {product_name} SN {serial_no} from {account_name} and review the trial', '0',
   'owner', 3, 'Due on the due-back date.', true),
  (71, 'sample overdue', 'sample_loan', '{"days_overdue": 1}', 'sample_return',
   'Sample {product_name} SN {serial_no} at {account_name} is overdue since {due_back_on}', '3 days',
   'owner', 2, 'Found by run_time_rules().', true),
  -- data quality
  (80, 'data-quality error', 'data_quality', '{"severity": "error"}', 'data_quality',
   'Fix {finding_code} in {table_name} {row_id}: {detail}', '7 days',
   'owner', 2, 'Found by run_time_rules() in medcrm.v_data_quality.', true),
  (81, 'data-quality warning', 'data_quality', '{"severity": "warning"}', 'data_quality',
   'Complete {finding_code} in {table_name} {row_id}: {detail}', '30 days',
   'owner', 4, 'Found by run_time_rules() in medcrm.v_data_quality.', true);
