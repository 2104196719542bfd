-- Migration: 0003_quiz_answers
-- Purpose: individual quiz answers, for analytics
CREATE TABLE quiz_answers (
    id             bigserial PRIMARY KEY,
    learner_id     integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lesson_id      text NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    question_index integer NOT NULL,
    question_hash  varchar(64) NOT NULL,
    user_answer    integer NOT NULL,
    correct_answer integer NOT NULL,
    is_correct     boolean GENERATED ALWAYS AS (user_answer = correct_answer) STORED,
    answered_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_learner_answers ON quiz_answers (learner_id, answered_at);
CREATE INDEX idx_question_hash ON quiz_answers (question_hash);
