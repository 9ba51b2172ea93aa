using Fleet.Benchmarks;

// dotnet run -c Release --project bench/Fleet.Benchmarks -- [--quick] [--artifacts DIR] [--filter GLOB...]
// Exit code: 0 when every judged target is met, 1 when one is missed, 2 on a usage error or a failed benchmark.
return MicroBench.Run(args);
