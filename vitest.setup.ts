// Runs before every test file. Silences tfjs' "running in Node" banner; backends are chosen by
// each test explicitly (nothing is registered or started on import).
process.env['IS_TEST'] = '1';
