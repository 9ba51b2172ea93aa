namespace Fleet.Mqtt.Client;

/// <summary>
/// Counts unacknowledged outgoing QoS 1 publishes against a limit that each CONNACK may change
/// (the broker's Receive Maximum). Callers wait, in order, when the window is full.
/// </summary>
internal sealed class InflightWindow
{
    private readonly Lock _lock = new();
    private readonly Queue<Waiter> _waiters = new();
    private int _count;
    private int _limit;
    private int _peak;
    private Exception? _closed;

    public InflightWindow(int limit) => _limit = limit;

    public int Count => Volatile.Read(ref _count);
    public int Limit => Volatile.Read(ref _limit);
    public int Peak => Volatile.Read(ref _peak);

    public bool TryAcquire()
    {
        lock (_lock)
        {
            if (_closed is not null)
            {
                throw _closed;
            }

            GrantWaiters();
            if (_count >= _limit || _waiters.Count > 0)
            {
                return false;
            }

            Take();
            return true;
        }
    }

    public Task AcquireAsync(CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_closed is not null)
            {
                return Task.FromException(_closed);
            }

            GrantWaiters();
            if (_count < _limit && _waiters.Count == 0)
            {
                Take();
                return Task.CompletedTask;
            }

            waiter = new Waiter();
            _waiters.Enqueue(waiter);
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(
                static (state, token) => ((Waiter)state!).TrySetCanceled(token), waiter);
        }

        return waiter.Task;
    }

    public void Release()
    {
        lock (_lock)
        {
            _count--;
            GrantWaiters();
        }
    }

    public void SetLimit(int limit)
    {
        lock (_lock)
        {
            _limit = limit;
            GrantWaiters();
        }
    }

    /// <summary>Fails every waiter and every later acquire; the client is closed.</summary>
    public void Close(Exception reason)
    {
        lock (_lock)
        {
            _closed = reason;
            while (_waiters.TryDequeue(out var waiter))
            {
                waiter.TrySetException(reason);
                waiter.Registration.Dispose();
            }
        }
    }

    private void GrantWaiters()
    {
        // Waiters cancelled meanwhile are dropped from the head so they never block a free slot.
        while (_waiters.TryPeek(out var head) && head.Task.IsCompleted)
        {
            _waiters.Dequeue().Registration.Dispose();
        }

        while (_count < _limit && _waiters.TryDequeue(out var waiter))
        {
            // A waiter that was cancelled meanwhile does not take the slot.
            if (waiter.TrySetResult())
            {
                Take();
            }

            waiter.Registration.Dispose();
        }
    }

    private void Take()
    {
        _count++;
        if (_count > _peak)
        {
            _peak = _count;
        }
    }

    private sealed class Waiter : TaskCompletionSource
    {
        public Waiter()
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
        }

        public CancellationTokenRegistration Registration { get; set; }
    }
}
