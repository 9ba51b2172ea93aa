using Npgsql;

namespace Fleet.Web.Api;

/// <summary>
/// Builds a WHERE clause from conditions whose values are always bound as positional parameters ($1, $2, …):
/// user input never becomes SQL text. The same filter can bind fresh parameters onto several commands.
/// </summary>
public sealed class SqlFilter
{
    private readonly List<string> _conditions = [];
    private readonly List<object> _values = [];

    /// <summary>Binds <paramref name="value"/> and returns its placeholder for use in a condition.</summary>
    public string Bind(object value)
    {
        _values.Add(value);
        return "$" + _values.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Add(string condition) => _conditions.Add(condition);

    /// <summary>Parameters bound so far; a command that adds its own after them numbers them from Count + 1.</summary>
    public int Count => _values.Count;

    /// <summary>Rows whose <paramref name="column"/> is at or after <paramref name="from"/> and before <paramref name="to"/>, each bound when given.</summary>
    public void AddTimeRange(string column, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } start)
        {
            Add($"{column} >= {Bind(start.ToUniversalTime())}");
        }

        if (to is { } end)
        {
            Add($"{column} < {Bind(end.ToUniversalTime())}");
        }
    }

    public string Where => _conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", _conditions);

    public void AddParametersTo(NpgsqlCommand command)
    {
        foreach (var value in _values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
    }

    /// <summary>How many rows of <paramref name="from"/> (a FROM clause body, e.g. <c>vehicles v</c>) match.</summary>
    public async Task<long> CountAsync(NpgsqlConnection connection, string from, CancellationToken ct)
    {
        await using var count = new NpgsqlCommand($"SELECT count(*) FROM {from}{Where}", connection);
        AddParametersTo(count);
        return (long)(await count.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// <paramref name="select"/> (up to and excluding WHERE) filtered, ordered by <paramref name="orderBy"/> and cut to
    /// one page, every value bound.
    /// </summary>
    public NpgsqlCommand PageCommand(NpgsqlConnection connection, string select, string orderBy, Paging paging)
    {
        var command = new NpgsqlCommand(
            $"{select}{Where} ORDER BY {orderBy} LIMIT ${Count + 1} OFFSET ${Count + 2}",
            connection);
        AddParametersTo(command);
        command.Parameters.Add(new NpgsqlParameter { Value = paging.PageSize });
        command.Parameters.Add(new NpgsqlParameter { Value = paging.Offset });
        return command;
    }
}
