namespace Fleet.Silo.Shards;

/// <summary>
/// One <c>SubmitAsync</c> call: a countdown of its reports not yet committed. Its reports may land in several
/// shards and several COPYs; the task completes when the last of them is committed. One allocation per call.
/// </summary>
internal sealed class Submission(int count) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private int _remaining = count;

    /// <summary><paramref name="count"/> of this submission's reports are durably stored.</summary>
    public void Committed(int count)
    {
        if (Interlocked.Add(ref _remaining, -count) == 0)
        {
            TrySetResult();
        }
    }

    /// <summary>Some of its reports will never be stored (store gave up, host stopping): the caller must not acknowledge.</summary>
    public void Fail(Exception exception) => TrySetException(exception);
}
