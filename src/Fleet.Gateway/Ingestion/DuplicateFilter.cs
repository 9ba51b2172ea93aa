using System.Runtime.InteropServices;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// Drops a report whose (ts, seq) the same vehicle sent recently: a ring of the last <c>window</c> keys per vehicle.
/// A cheap first line only; what falls out of the window (or was seen before a restart) is stopped by the positions
/// primary key. Used by the single receive loop, so it takes no locks.
/// </summary>
internal sealed class DuplicateFilter(int window)
{
    private readonly Dictionary<long, Ring> _rings = [];

    /// <summary>Remembers the key and returns true when it is new; false for a duplicate.</summary>
    public bool TryAdd(long vehicleId, long ts, uint seq)
    {
        ref var ring = ref CollectionsMarshal.GetValueRefOrAddDefault(_rings, vehicleId, out var exists);
        if (!exists)
        {
            ring = new Ring(window);
        }

        return ring!.TryAdd(ts, seq);
    }

    /// <summary>Forgets everything: after a failed commit, the redelivered reports must not be taken for duplicates.</summary>
    public void Clear() => _rings.Clear();

    private sealed class Ring(int size)
    {
        private readonly long[] _ts = new long[size];
        private readonly uint[] _seq = new uint[size];
        private int _count;
        private int _next;

        public bool TryAdd(long ts, uint seq)
        {
            for (var i = 0; i < _count; i++)
            {
                if (_ts[i] == ts && _seq[i] == seq)
                {
                    return false;
                }
            }

            _ts[_next] = ts;
            _seq[_next] = seq;
            _next = (_next + 1) % _ts.Length;
            _count = Math.Min(_count + 1, _ts.Length);
            return true;
        }
    }
}
