using Microsoft.Extensions.Logging;

namespace Fleet.Gateway.Tests;

/// <summary>The components' information and above go to the test output, where a failing test shows them.</summary>
internal sealed class TestOutputLoggerProvider : ILoggerProvider
{
    /// <summary>Writes a timestamped line to the current test's output; after the test has finished, nowhere.</summary>
    public static void Log(string line)
    {
        try
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; its output is closed.
        }
    }

    public ILogger CreateLogger(string categoryName) => new TestOutputLogger(categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void Dispose()
    {
    }

    private sealed class TestOutputLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            TestOutputLoggerProvider.Log($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
    }
}
