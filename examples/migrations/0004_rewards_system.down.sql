DROP TRIGGER quiz_answers_award_token ON quiz_answers;
DROP FUNCTION award_token();
ALTER TABLE users DROP COLUMN tokens;
