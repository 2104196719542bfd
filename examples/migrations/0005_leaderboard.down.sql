DROP VIEW leaderboard;
