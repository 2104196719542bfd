-- Migration: 0002_lessons
-- Purpose: lessons and their questions
CREATE TABLE lessons (
    id    text PRIMARY KEY,
    title text NOT NULL
);

INSERT INTO lessons (id, title) VALUES
    ('fractions-1', 'Fractions; the basics'),
    ('decimals-1', 'Decimals');
