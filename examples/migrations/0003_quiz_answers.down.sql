DROP TABLE quiz_answers;
