"""One code, one error: a client that branches on `error.code` (or X-Error-Code) never has to look at the status."""

from collections import defaultdict

from photomod_shared import errors


def domain_errors() -> list[type[errors.DomainError]]:
    found, todo = [], [errors.DomainError]
    while todo:
        error = todo.pop()
        found.append(error)
        todo.extend(error.__subclasses__())
    return found


def test_no_two_domain_errors_share_a_code():
    classes_by_code: dict[str, list[str]] = defaultdict(list)
    for error in domain_errors():
        classes_by_code[error.code].append(error.__name__)
    shared = {code: names for code, names in classes_by_code.items() if len(names) > 1}
    assert not shared, f"give each of these errors its own code: {shared}"


def test_a_declared_size_over_the_limit_and_a_photo_over_it_are_told_apart():
    assert errors.UploadTooLarge.code == "declared_size_too_large"  # POST /uploads, 400: correct the request
    assert errors.FileTooLarge.code == "file_too_large"  # POST /predict, 413: the photo sent is too large
