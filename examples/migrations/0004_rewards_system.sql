-- Migration: 0004_rewards_system
-- Purpose: tokens earned for correct answers
ALTER TABLE users ADD COLUMN tokens integer NOT NULL DEFAULT 0;

-- award a token for each correct answer; the body's semicolons stay inside
CREATE FUNCTION award_token() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_correct THEN
        UPDATE users SET tokens = tokens + 1 WHERE id = NEW.learner_id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER quiz_answers_award_token
    AFTER INSERT ON quiz_answers
    FOR EACH ROW EXECUTE FUNCTION award_token();
