-- Codes a signed-in user asks for: 'delete' confirms the deletion of the
-- account, 'phone' (with the number it is sent to, new_phone) proves a
-- new number.
ALTER TABLE challenges DROP CONSTRAINT challenges_purpose_check;
ALTER TABLE challenges ADD CONSTRAINT challenges_purpose_check
	CHECK (purpose IN ('register', 'login', 'delete', 'phone'));
ALTER TABLE challenges ADD COLUMN new_phone text;
ALTER TABLE challenges ADD CONSTRAINT challenges_new_phone_check
	CHECK ((purpose = 'phone') = (new_phone IS NOT NULL));
