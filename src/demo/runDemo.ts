// Placeholder: the lead replaces this with the real demo (scripts/demo.sh runs it with REDIS_URL
// and DATABASE_URL set to private instances).
console.log('demo: not yet wired');
