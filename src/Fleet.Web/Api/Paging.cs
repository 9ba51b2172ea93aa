namespace Fleet.Web.Api;

/// <summary>A 1-based page request, already validated.</summary>
public readonly record struct Paging(int Page, int PageSize)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    // Keeps OFFSET bounded: deep paging through PostgreSQL gets slow long before this.
    public const int MaxPage = 100_000;

    public long Offset => (long)(Page - 1) * PageSize;
}

/// <summary>One page of a list, and how many rows match the filter in all.</summary>
public sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total);
