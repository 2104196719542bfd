-- Migration: 0005_leaderboard
-- Purpose: the learners with the most tokens
CREATE VIEW leaderboard AS
    SELECT id, email, tokens
    FROM users
    WHERE role = 'learner'
    ORDER BY tokens DESC, id;
