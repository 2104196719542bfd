-- Migration: 0001_users
-- Purpose: accounts for learners and their parents
CREATE TABLE users (
    id         serial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    role       text NOT NULL DEFAULT 'learner' CHECK (role IN ('learner', 'parent', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);
