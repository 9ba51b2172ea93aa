using System.Runtime.InteropServices;
using Fleet.Simulator.Cli;

// Ctrl-C and SIGTERM both ask for a graceful stop: the tail is acknowledged and the terminals marked offline.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

return await SimulatorApp.RunAsync(args, Console.Out, Environment.GetEnvironmentVariable, stop.Token);
