namespace Fleet.Silo.Shards;

/// <summary>The database operations the shard host depends on; any of them failing makes it degraded.</summary>
[Flags]
internal enum StoreOperation
{
    None = 0,
    Positions = 1,
    StateLoad = 2,
    StateSave = 4,
}

/// <summary>Which store operations are failing right now, and the latest error. Thread-safe.</summary>
internal sealed class StoreHealth
{
    private readonly Lock _gate = new();
    private StoreOperation _failing;
    private string? _lastError;
    private DateTimeOffset? _since;

    public (bool Degraded, string? LastError, DateTimeOffset? Since) Read()
    {
        lock (_gate)
        {
            return (_failing != StoreOperation.None, _lastError, _since);
        }
    }

    public void Failed(StoreOperation operation, Exception exception, TimeProvider timeProvider)
    {
        lock (_gate)
        {
            if (_failing == StoreOperation.None)
            {
                _since = timeProvider.GetUtcNow();
            }

            _failing |= operation;
            _lastError = $"{operation}: {exception.GetType().Name}: {exception.Message}";
        }
    }

    /// <summary>Clears the operation's failure; true when it had been failing.</summary>
    public bool Succeeded(StoreOperation operation)
    {
        lock (_gate)
        {
            if ((_failing & operation) == 0)
            {
                return false;
            }

            _failing &= ~operation;
            if (_failing == StoreOperation.None)
            {
                _since = null;
            }

            return true;
        }
    }
}
